import type { Digest } from '../oci/digest.js';
import { isIndexSink } from '../oci/index.js';
import { parseImageLocation, type ImageLocation } from './image-location.js';
import { destinationRefs, imageSink, readImage, readStored, type ImageAccess } from './images.js';

export interface CopyOptions {
  /**
   * Copy only the image for `access.platform`. Otherwise what the source
   * holds is copied as is, an index with all its images (as crane copy
   * does); a destination that holds one image (docker-archive) then gets
   * the one for `access.platform`.
   */
  onePlatform?: boolean;
}

/** Any source to any sink (what copy, pull and push are). Returns the written manifest or index digest. */
export async function copyImage(
  from: string | ImageLocation,
  to: string | ImageLocation,
  access: ImageAccess,
  opts: CopyOptions = {},
): Promise<Digest> {
  const src = typeof from === 'string' ? parseImageLocation(from) : from;
  const dst = typeof to === 'string' ? parseImageLocation(to) : to;
  const sink = imageSink(dst, access);
  const refs = destinationRefs(dst, src);
  if (!opts.onePlatform) {
    const stored = await readStored(src, access);
    if (stored.kind === 'image') return sink.write(stored.image, refs);
    if (isIndexSink(sink)) return sink.writeIndex(stored.index, refs);
  }
  return sink.write(await readImage(src, access), refs);
}
