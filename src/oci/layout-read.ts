/**
 * Reading an image out of an OCI image layout, wherever its files live (a
 * directory or a tar): select the index.json entry, descend through nested
 * indexes by platform, and return a lazy image over the layout's blobs.
 */
import { HoistError } from '../errors.js';
import { blobImage, type BlobFetcher, type Image } from './image.js';
import { blobIndex, type StoredImage } from './image-index.js';
import { selectIndexEntry } from './layout-index.js';
import { isImageManifestMediaType, isIndexMediaType } from './media-types.js';
import { parseIndex } from './parse.js';
import { selectPlatformManifest } from './platform.js';
import { readBounded } from './read-bounded.js';
import type { Reference } from './reference.js';
import type { Descriptor, Platform } from './types.js';

export interface LayoutFiles {
  /** The bytes of index.json; HoistError NOT_A_LAYOUT when missing. */
  readIndex(): Promise<Buffer>;
  /** Opens `blobs/<alg>/<hex>`, verified. */
  fetch: BlobFetcher;
  /** Names the layout in messages, e.g. `OCI layout /tmp/out`. */
  where: string;
}

/** Nested indexes deeper than this are refused (a loop would otherwise never end). */
const MAX_INDEX_DEPTH = 8;

export async function resolveLayoutImage(
  files: LayoutFiles,
  selector: Reference | string | undefined,
  platform: Platform | undefined,
): Promise<Image> {
  const index = parseIndex(await files.readIndex());
  let desc: Descriptor = selectIndexEntry(index, selector, files.where);
  for (let depth = 0; isIndexMediaType(desc.mediaType); depth++) {
    if (depth >= MAX_INDEX_DEPTH) {
      throw new HoistError('BAD_MANIFEST', `${files.where}: image indexes nested more than ${MAX_INDEX_DEPTH} deep`);
    }
    const nested = parseIndex(await readBounded(await files.fetch(desc), `index ${desc.digest}`));
    desc = selectPlatformManifest(nested.manifests, platform, `${files.where} (index ${desc.digest})`);
  }
  if (!isImageManifestMediaType(desc.mediaType)) {
    throw new HoistError('UNSUPPORTED_MEDIA_TYPE', `${files.where}: entry ${desc.digest} is ${desc.mediaType}, not an image manifest`);
  }
  const raw = await readBounded(await files.fetch(desc), `manifest ${desc.digest}`);
  return blobImage(raw, files.fetch, desc.mediaType);
}

/** The entry `selector` names as stored: an image, or an index with everything it lists. */
export async function resolveLayoutStored(files: LayoutFiles, selector: Reference | string | undefined): Promise<StoredImage> {
  const index = parseIndex(await files.readIndex());
  const desc = selectIndexEntry(index, selector, files.where);
  const read = async (d: Descriptor): Promise<Buffer> => readBounded(await files.fetch(d), `manifest ${d.digest} in ${files.where}`);
  if (isIndexMediaType(desc.mediaType)) return { kind: 'index', index: blobIndex(await read(desc), desc.mediaType, read, files.fetch) };
  if (!isImageManifestMediaType(desc.mediaType)) {
    throw new HoistError('UNSUPPORTED_MEDIA_TYPE', `${files.where}: entry ${desc.digest} is ${desc.mediaType}, not an image manifest or index`);
  }
  return { kind: 'image', image: blobImage(await read(desc), files.fetch, desc.mediaType) };
}
