/**
 * Layers: the lazy interface and the few ways hoist makes one. Nothing is
 * read until a method needs it; computed digests are memoized.
 */
import { pipeline, Readable, Writable } from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import type { BlobStore } from './blob-store.js';
import { decompressor, gzipCompressor, sniffCompression } from './compression.js';
import { DigestingStream, verifyingStream, type Digest } from './digest.js';
import { layerCompression, layerMediaType, type Compression, type MediaTypeFamily } from './media-types.js';
import { memo } from './memo.js';
import type { Descriptor } from './types.js';

export interface Layer {
  /** Digest of the blob as stored/transferred (compressed form). */
  digest(): Promise<Digest>;
  /** Digest of the uncompressed tar (what the config's rootfs.diff_ids lists). */
  diffId(): Promise<Digest>;
  /** Size in bytes of the stored (compressed) blob. */
  size(): Promise<number>;
  mediaType(): string;
  /** The blob as stored, verified against digest and size. */
  compressed(): Promise<Readable>;
  /** The layer tar, decompressed, verified against the diffID. */
  uncompressed(): Promise<Readable>;
}

/** Chain streams; errors anywhere reach the consumer of the last one. */
function chain(first: Readable, ...rest: NodeJS.ReadWriteStream[]): Readable {
  if (rest.length === 0) return first;
  return pipeline([first, ...rest], () => undefined) as unknown as Readable;
}

/** Decompress a layer blob and verify the result against `diffId`. */
export function uncompressLayerStream(blob: Readable, compression: Compression, diffId: Digest): Readable {
  const undo = decompressor(compression);
  const check = verifyingStream({ digest: diffId }, `uncompressed layer ${diffId}`);
  return undo === undefined ? chain(blob, check) : chain(blob, undo, check);
}

/**
 * A layer that is a blob described by `descriptor`. `open` must return the
 * blob's content verified against the descriptor (BlobStore.open does).
 */
export function blobLayer(descriptor: Descriptor, diffId: Digest, open: () => Promise<Readable>): Layer {
  const known = layerCompression(descriptor.mediaType);
  return {
    digest: async () => descriptor.digest,
    diffId: async () => diffId,
    size: async () => descriptor.size,
    mediaType: () => descriptor.mediaType,
    compressed: open,
    uncompressed: async () => {
      const blob = await open();
      return uncompressLayerStream(blob, known ?? (await sniff(blob)), diffId);
    },
  };
}

/** A layer backed by a blob in the store. */
export function storeLayer(store: BlobStore, descriptor: Descriptor, diffId: Digest): Layer {
  return blobLayer(descriptor, diffId, () => store.open(descriptor.digest, descriptor.size));
}

/**
 * A gzip layer this build has just written into the store (its digest and
 * diffID computed as it was written): read back without hashing it again,
 * to unpack it or push it (the registry checks the digest of what it gets).
 */
export function writtenLayer(store: BlobStore, descriptor: Descriptor, diffId: Digest): Layer {
  const open = () => store.openWritten(descriptor.digest);
  return {
    ...storeLayer(store, descriptor, diffId),
    compressed: open,
    uncompressed: async () => chain(await open(), decompressor('gzip') as NodeJS.ReadWriteStream),
  };
}

/** Peek at the first bytes of a stream without consuming them. */
async function sniff(stream: Readable): Promise<Compression> {
  const head = await new Promise<Buffer>((resolve, reject) => {
    const onReadable = (): void => {
      const chunk = stream.read() as Buffer | null;
      cleanup();
      if (chunk !== null) stream.unshift(chunk);
      resolve(chunk ?? Buffer.alloc(0));
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.alloc(0));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const cleanup = (): void => {
      stream.off('readable', onReadable).off('end', onEnd).off('error', onError);
    };
    stream.on('readable', onReadable).on('end', onEnd).on('error', onError);
  });
  return sniffCompression(head);
}

/** The same layer under another media type (same bytes, e.g. Docker gzip as OCI gzip). */
export function withMediaType(layer: Layer, mediaType: string): Layer {
  if (layer.mediaType() === mediaType) return layer;
  return { ...layer, mediaType: () => mediaType };
}

/**
 * An uncompressed layer served gzip-compressed. The compressed digest and
 * size cost one compression pass, done on first ask and memoized; gzip at a
 * fixed level is deterministic, so later streams match it (and are verified).
 */
export function gzipLayer(inner: Layer, family: MediaTypeFamily): Layer {
  const measured = memo(() => measure(async () => chain(await inner.uncompressed(), gzipCompressor())));
  return {
    digest: async () => (await measured()).digest,
    diffId: () => inner.diffId(),
    size: async () => (await measured()).size,
    mediaType: () => layerMediaType(family, 'gzip'),
    compressed: async () => {
      const { digest, size } = await measured();
      return chain(await inner.uncompressed(), gzipCompressor(), verifyingStream({ digest, size }, `gzip of layer ${digest}`));
    },
    uncompressed: () => inner.uncompressed(),
  };
}

function discard(): Writable {
  return new Writable({ write: (_chunk, _enc, cb) => cb() });
}

/** Read a layer's stream fully to learn a digest and size (used when a source does not say). */
export async function measure(open: () => Promise<Readable>): Promise<{ digest: Digest; size: number }> {
  const digester = new DigestingStream('sha256');
  await pipelineAsync(await open(), digester, discard());
  return { digest: digester.digest(), size: digester.size };
}
