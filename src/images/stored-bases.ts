/**
 * Base images served from the blob store: an image the store holds whole
 * (manifest, config, every layer) is opened there, without the registry,
 * when the reference pins its digest; a tag costs one HEAD request to learn
 * the digest it names now. What the registry gives otherwise is remembered
 * (manifest into the store, and which manifest a digest and platform
 * resolve to), so the next build finds it.
 *
 * The record `<store>/base-refs/<hex>.json` maps a pinned digest (of an
 * image manifest or an index) and a platform to the image manifest's
 * digest; a record of another format, or one whose blobs are gone, is
 * ignored and the registry is asked.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../oci/atomic-file.js';
import { isDigest, type Digest } from '../oci/digest.js';
import { blobImage, parseReference, type BlobStore, type Image, type ImageSource, type Platform, type Reference } from '../oci/index.js';
import { formatPlatform } from '../oci/platform.js';

const FORMAT = 'hoist.cache.base-ref/v1';

export interface StoredBasesOptions {
  store: BlobStore;
  /** The digest a reference names now (one HEAD request); undefined when that cannot be told (then `source` is asked). */
  headDigest?: ((ref: Reference) => Promise<Digest | undefined>) | undefined;
}

/** `source`, with images the store holds served from it (see above). */
export function storedBasesSource(source: ImageSource, opts: StoredBasesOptions): ImageSource {
  return {
    async image(ref?: Reference | string, platform?: Platform): Promise<Image> {
      const parsed = parseOrUndefined(ref);
      if (parsed === undefined) return source.image(ref, platform);
      const pinned = parsed.digest ?? (await opts.headDigest?.(parsed).catch(() => undefined));
      if (pinned === undefined) return source.image(ref, platform);
      const record = recordFile(opts.store, pinned, platform);
      const stored = await fromStore(opts.store, record);
      if (stored !== undefined) return stored;
      // The tag may move meanwhile: what is fetched is what the HEAD saw.
      const image = await source.image(parsed.digest === undefined ? parsed.repository().withDigest(pinned) : ref, platform);
      await remember(opts.store, record, image).catch(() => undefined);
      return image;
    },
  };
}

function parseOrUndefined(ref: Reference | string | undefined): Reference | undefined {
  if (ref === undefined || typeof ref !== 'string') return ref;
  try {
    return parseReference(ref);
  } catch {
    return undefined;
  }
}

function recordFile(store: BlobStore, pinned: Digest, platform: Platform | undefined): string {
  const key = JSON.stringify([FORMAT, pinned, platform === undefined ? '' : formatPlatform(platform)]);
  const hex = createHash('sha256').update(key).digest('hex');
  return path.join(store.root, 'base-refs', `${hex}.json`);
}

async function fromStore(store: BlobStore, record: string): Promise<Image | undefined> {
  let manifest: Digest;
  try {
    const v = JSON.parse(await readFile(record, 'utf8')) as { format?: unknown; manifest?: unknown };
    if (v.format !== FORMAT || typeof v.manifest !== 'string' || !isDigest(v.manifest)) return undefined;
    manifest = v.manifest;
  } catch {
    return undefined;
  }
  if (!(await store.has(manifest))) return undefined;
  const image = blobImage(await store.readBytes(manifest), (desc) => store.open(desc.digest, desc.size));
  const m = await image.manifest().catch(() => undefined);
  if (m === undefined) return undefined;
  for (const desc of [m.config, ...m.layers]) if (!(await store.has(desc.digest))) return undefined;
  return image;
}

async function remember(store: BlobStore, record: string, image: Image): Promise<void> {
  const raw = await image.rawManifest();
  const digest = await image.digest();
  await store.putBytes(raw, { digest, size: raw.length });
  await mkdir(path.dirname(record), { recursive: true });
  await writeFileAtomic(record, Buffer.from(JSON.stringify({ format: FORMAT, manifest: digest })));
}
