/**
 * Image indexes as stored (an OCI index or a Docker manifest list): its exact
 * bytes, and lazy access to what it lists. This is what `hoist copy` moves
 * whole when no platform is chosen, as `crane copy` does.
 */
import { HoistError } from '../errors.js';
import { sha256Digest, type Digest } from './digest.js';
import type { BlobFetcher, Image } from './image.js';
import { isDistributable, isIndexMediaType, MediaType } from './media-types.js';
import { memo } from './memo.js';
import { parseIndex, parseManifest } from './parse.js';
import type { Reference } from './reference.js';
import type { Descriptor, Index } from './types.js';

export interface ImageIndex {
  index(): Promise<Index>;
  /** The exact bytes; `digest()` is their sha256. */
  rawManifest(): Promise<Buffer>;
  digest(): Promise<Digest>;
  mediaType(): Promise<string>;
  /** The exact bytes of a manifest or index listed below this one, verified against `desc`. */
  manifestBytes(desc: Descriptor): Promise<Buffer>;
  /** A verified stream of a blob (config or layer) a listed manifest names. */
  blob: BlobFetcher;
}

/** What a location holds: one image, or an index of them. */
export type StoredImage = { kind: 'image'; image: Image } | { kind: 'index'; index: ImageIndex };

/** A source that can give what it holds as is, without choosing a platform. */
export interface StoredImageSource {
  stored(ref?: Reference | string): Promise<StoredImage>;
}

/** A sink that can write an index with everything it lists. Returns the index digest. */
export interface IndexSink {
  writeIndex(index: ImageIndex, refs: readonly Reference[]): Promise<Digest>;
}

export function isIndexSink(sink: object): sink is IndexSink {
  return typeof (sink as Partial<IndexSink>).writeIndex === 'function';
}

/** An index from its exact bytes; listed manifests and blobs are opened through the given fetchers. */
export function blobIndex(
  raw: Buffer,
  mediaType: string | undefined,
  manifestBytes: (desc: Descriptor) => Promise<Buffer>,
  blob: BlobFetcher,
): ImageIndex {
  const index = memo(async () => parseIndex(raw));
  return {
    index: async () => structuredClone(await index()),
    rawManifest: async () => raw,
    digest: async () => sha256Digest(raw),
    mediaType: async () => (await index()).mediaType ?? mediaType ?? MediaType.OciIndex,
    manifestBytes,
    blob,
  };
}

/** Everything below an index, in the order a registry accepts it. */
export interface IndexContents {
  /** Configs and distributable layers of every listed manifest, each digest once. */
  blobs: Descriptor[];
  /** Listed manifests and nested indexes, each after everything it lists; each digest once. */
  manifests: Array<{ desc: Descriptor; raw: Buffer }>;
}

/** Nested indexes deeper than this are refused (a loop would otherwise never end). */
const MAX_INDEX_DEPTH = 8;

/** Walk an index: read every manifest it lists (small documents), and name every blob they use. */
export async function indexContents(idx: ImageIndex, where: string): Promise<IndexContents> {
  const blobs = new Map<Digest, Descriptor>();
  const manifests = new Map<Digest, { desc: Descriptor; raw: Buffer }>();
  const visit = async (list: Index, depth: number): Promise<void> => {
    if (depth >= MAX_INDEX_DEPTH) throw new HoistError('BAD_MANIFEST', `${where}: image indexes nested more than ${MAX_INDEX_DEPTH} deep`);
    for (const desc of list.manifests) {
      if (manifests.has(desc.digest)) continue;
      const raw = await idx.manifestBytes(desc);
      if (isIndexMediaType(desc.mediaType)) {
        await visit(parseIndex(raw), depth + 1);
      } else {
        const m = parseManifest(raw);
        for (const b of [m.config, ...m.layers]) {
          if (isDistributable(b.mediaType) && !blobs.has(b.digest)) blobs.set(b.digest, b);
        }
      }
      manifests.set(desc.digest, { desc: { mediaType: desc.mediaType, digest: desc.digest, size: desc.size }, raw });
    }
  };
  await visit(await idx.index(), 0);
  return { blobs: [...blobs.values()], manifests: [...manifests.values()] };
}

/** The descriptor of an index, as index.json or a parent index lists it. */
export async function indexDescriptor(idx: ImageIndex): Promise<Descriptor> {
  const raw = await idx.rawManifest();
  return { mediaType: await idx.mediaType(), digest: sha256Digest(raw), size: raw.length };
}
