import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { flattenLayers } from '../../snapshot/flatten.js';
import type { Digest } from '../oci/digest.js';
import type { Image } from '../oci/index.js';
import { parseImageLocation, type ImageLocation } from './image-location.js';
import { destinationRefs, imageSink, readImage, type ImageAccess } from './images.js';

/** Any source to any sink (what copy, pull and push are). Returns the written manifest digest. */
export async function copyImage(from: string | ImageLocation, to: string | ImageLocation, access: ImageAccess): Promise<Digest> {
  const src = typeof from === 'string' ? parseImageLocation(from) : from;
  const dst = typeof to === 'string' ? parseImageLocation(to) : to;
  const image = await readImage(src, access);
  return imageSink(dst, access).write(image, destinationRefs(dst, src));
}

/** The image's flattened filesystem as a tar file (or a stream), written whole or not at all. */
export async function exportImage(image: Image, file: string | Writable): Promise<void> {
  const layers = await image.layers();
  const opens = layers.map((l) => () => l.uncompressed());
  if (typeof file !== 'string') {
    await flattenLayers(opens, file);
    return;
  }
  const temp = `${file}.tmp-${process.pid}-${Date.now()}`;
  try {
    await flattenLayers(opens, createWriteStream(temp, { flags: 'wx', mode: 0o644 }));
    await rename(temp, file);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}
