import type { Digest } from '../oci/digest.js';
import { parseImageLocation, type ImageLocation } from './image-location.js';
import { destinationRefs, imageSink, readImage, type ImageAccess } from './images.js';

/** Any source to any sink (what copy, pull and push are). Returns the written manifest digest. */
export async function copyImage(from: string | ImageLocation, to: string | ImageLocation, access: ImageAccess): Promise<Digest> {
  const src = typeof from === 'string' ? parseImageLocation(from) : from;
  const dst = typeof to === 'string' ? parseImageLocation(to) : to;
  const image = await readImage(src, access);
  return imageSink(dst, access).write(image, destinationRefs(dst, src));
}
