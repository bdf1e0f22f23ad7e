import { PassThrough, type Writable } from 'node:stream';
import { flattenLayers } from '../../snapshot/flatten.js';
import { HoistError } from '../errors.js';
import { writeStreamAtomic } from '../oci/atomic-file.js';
import type { Image } from '../oci/index.js';

/** The image's flattened filesystem as a tar file (or a stream), written whole or not at all. */
export async function exportImage(image: Image, file: string | Writable): Promise<void> {
  const layers = await image.layers();
  const opens = layers.map((l) => () => l.uncompressed());
  if (typeof file !== 'string') {
    await flattenLayers(opens, file);
    return;
  }
  // Through the shared temp-file-and-rename writer; wait for both sides so no temp
  // file outlives a failure. A layer problem (HoistError) says more than the
  // broken pipe it causes on the file side, and vice versa when the file fails first.
  const out = new PassThrough();
  const [flattened, written] = await Promise.allSettled([flattenLayers(opens, out), writeStreamAtomic(file, out)]);
  if (flattened.status === 'rejected' && flattened.reason instanceof HoistError) throw flattened.reason;
  if (written.status === 'rejected') throw written.reason;
  if (flattened.status === 'rejected') throw flattened.reason;
}
