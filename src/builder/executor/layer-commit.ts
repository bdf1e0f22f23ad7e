import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { pipeline, Readable } from 'node:stream';
import type { LayerEntry } from '../../../snapshot/layer-entry.js';
import type { BlockDeflater } from '../../../snapshot/deflate-pool.js';
import { gzipTar, writeLayerTar } from '../../../snapshot/layer-stream.js';
import { fsError } from '../../fs-errors.js';
import { fileHandleSink } from '../../oci/atomic-file.js';
import { MediaType, storeLayer, writtenLayer, type BlobStore, type BlobWriteWatch, type Descriptor, type GrowingBlob, type Layer } from '../../oci/index.js';
import { FollowedBlobWrite } from './growing-blob.js';
import { LayerSpool } from './layer-spool.js';
import type { GrowingTar } from '../../../snapshot/rootfs/following-unpack.js';
import { follow, WriteProgress } from '../../../snapshot/rootfs/write-progress.js';
import type { Digest } from '../../oci/digest.js';
import { byteCounter } from '../../oci/progress.js';

/**
 * A layer with no entries, byte for byte as BuildKit writes it for a RUN
 * that changed nothing: Go's gzip (no name, mtime 0) of an empty tar (1024
 * zero bytes). Registries and caches already hold this blob.
 */
const EMPTY_LAYER = Buffer.from([31, 139, 8, 0, 0, 0, 0, 0, 0, 255, 98, 24, 5, 163, 96, 20, 140, 88, 0, 8, 0, 0, 255, 255, 46, 175, 181, 239, 0, 4, 0, 0]);
const EMPTY_LAYER_DIGEST: Digest = 'sha256:4f4fb700ef54461cfa02571ae0db9a0dc1e0cdb5577484a6d75e68dc38e8acc1';
const EMPTY_LAYER_DIFF_ID: Digest = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';

export interface CommittedLayer {
  /** The layer: readable at once (from its spool); its digest, size and blob once `stored` settles. */
  layer: Layer;
  diffId: Digest;
  /** The gzip blob in the store: its digest and size. Rejects when compressing or storing it failed. */
  stored: Promise<{ digest: Digest; size: number }>;
}

export interface CommitOptions {
  /** Where the layer's tar is spooled while it is compressed (the build's scratch space). */
  spoolDir: string;
  clampMtime?: number | undefined;
  /** Stops writing the tar. */
  signal?: AbortSignal | undefined;
  /** Stops the compression in the background (which follows the tar as it is written, and goes on after it). */
  compressSignal?: AbortSignal | undefined;
  /** gzip level, 0-9; default DEFAULT_GZIP_LEVEL (snapshot/gzip-level.ts). */
  gzipLevel?: number | undefined;
  /** Where the gzip's blocks are deflated (DeflatePool's threads); default libuv's pool. The output is the same. */
  deflate?: BlockDeflater | undefined;
  /**
   * Told how far the compression is, as file content bytes out of the total
   * of the entries' file sizes (the share of the tar gzipped so far); called
   * once more with `done` when the blob is in the store.
   */
  onProgress?: ((current: number, total: number, done: boolean) => void) | undefined;
  /**
   * Given the gzip blob while it is written into the store (a registry
   * upload may follow it); `onCleanup` closes what it holds if it was never read.
   */
  stream?: { send(blob: GrowingBlob): void; onCleanup(cleanup: () => Promise<void>): void } | undefined;
  /** Told where the tar goes, before its first byte: a reader may follow it as it is written (see GrowingTar). */
  onSpool?: ((tar: GrowingTar) => void) | undefined;
}

/**
 * Writes entries as one gzip layer into the store in two parts. The tar is
 * written to a spool with its diffID, and that is all a build waits for:
 * the stage's files are unpacked from the spool, and the next step starts,
 * while the tar is gzipped into the store in the background (`stored`), on
 * the core a RUN leaves idle. The store renames the blob into place only
 * when it is complete; the spool goes once the blob is in the store and
 * nothing reads it.
 */
export async function commitLayer(store: BlobStore, entries: readonly LayerEntry[], opts: CommitOptions): Promise<CommittedLayer> {
  if (entries.length === 0) return commitEmptyLayer(store);
  const report = opts.onProgress;
  const total = report === undefined ? 0 : contentTotal(entries);
  const spool = new LayerSpool(path.join(opts.spoolDir, `layer-${randomBytes(8).toString('hex')}.tar`));
  const handle = await open(spool.path, 'wx', 0o600).catch((err: unknown) => {
    throw fsError(err, opts.spoolDir, 'spool a layer in');
  });
  const progress = new WriteProgress();
  if (opts.onSpool !== undefined) opts.onSpool({ file: spool.path, progress, done: spool.hold() });
  // The gzip follows the tar as it is written: a step's layer is compressed while its
  // tar is still being written (the last RUN's layer ends the build that much sooner).
  let tarSize: number | undefined;
  let tarRead = 0;
  // What is shown is the compression: the share of the tar gzipped so far, in file content
  // bytes; until the tar's size is known, against an estimate of it (a header and padding
  // per entry). What is shown never goes back.
  const tarEstimate = total + 1024 * (entries.length + 1);
  let shown = 0;
  const showCompressed = (): void => {
    const current = Math.min(total, Math.floor((total * tarRead) / Math.max(tarSize ?? tarEstimate, tarRead)));
    if (current < shown) return;
    shown = current;
    report?.(current, total, false);
  };
  const compressed =
    report === undefined || total === 0
      ? undefined
      : (read: number): void => {
          tarRead = read;
          showCompressed();
        };
  let describe: (descriptor: Promise<Descriptor>) => void = () => undefined;
  const follower = opts.stream === undefined ? undefined : new FollowedBlobWrite(new Promise<Descriptor>((resolve, reject) => (describe = (d) => d.then(resolve, reject))));
  const stored = gzipIntoStore(store, followSpool(spool, progress), opts, compressed, follower?.watch).finally(() => spool.release());
  stored.catch(() => undefined);
  let tar: { diffId: Digest; size: number };
  try {
    if (follower !== undefined && opts.stream !== undefined) {
      const descriptor = stored.then(({ digest, size }): Descriptor => ({ mediaType: MediaType.OciLayerGzip, digest, size }));
      descriptor.catch(() => undefined);
      describe(descriptor);
      opts.stream.onCleanup(() => follower.close());
      opts.stream.send(follower.blob);
    }
    // A scratch file, deleted soon: no flushes to disk in the background.
    const sink = fileHandleSink(handle, { file: spool.path, action: 'spool a layer in', backgroundFlush: false, onWritten: (n) => progress.grew(n) });
    tar = await writeLayerTar(
      entries,
      opts.clampMtime === undefined ? {} : { clampMtime: opts.clampMtime },
      sink,
      opts.signal,
    );
    tarSize = tar.size;
    progress.finished();
    if (compressed !== undefined && tarRead > 0) showCompressed();
  } catch (err) {
    progress.failed();
    spool.release();
    throw err;
  } finally {
    await handle.close().catch(() => undefined);
  }
  const { diffId } = tar;
  if (report !== undefined) void stored.then(() => report(total, total, true), () => undefined);
  const blob = stored.then(({ digest, size }) => writtenLayer(store, { mediaType: MediaType.OciLayerGzip, digest, size }, diffId));
  blob.catch(() => undefined);
  const layer: Layer = {
    digest: async () => (await stored).digest,
    diffId: async () => diffId,
    size: async () => (await stored).size,
    mediaType: () => MediaType.OciLayerGzip,
    compressed: async () => (await blob).compressed(),
    uncompressed: async () => (await spool.open()) ?? (await blob).uncompressed(),
  };
  return { layer, diffId, stored };
}

/** The spool's tar as its writer writes it; the file is kept until this is read to its end or destroyed. */
function followSpool(spool: LayerSpool, progress: WriteProgress): Readable {
  const done = spool.hold();
  const tar = Readable.from(follow(spool.path, progress), { objectMode: false });
  tar.once('close', done);
  return tar;
}

async function gzipIntoStore(
  store: BlobStore,
  tar: Readable,
  opts: Pick<CommitOptions, 'compressSignal' | 'deflate' | 'gzipLevel'>,
  onRead: ((bytes: number) => void) | undefined,
  watch: BlobWriteWatch | undefined,
): Promise<{ digest: Digest; size: number }> {
  const counted = onRead === undefined ? tar : pipeline(tar, byteCounter(onRead), () => undefined);
  const gzip = gzipTar(counted, { deflate: opts.deflate, gzipLevel: opts.gzipLevel });
  try {
    const { digest, size } = await store.put(gzip, {}, { signal: opts.compressSignal, watch });
    return { digest, size };
  } catch (err) {
    // The store may fail before it reads anything (an abort): the spool's reader must close all the same.
    gzip.destroy();
    counted.destroy();
    tar.destroy();
    throw err;
  }
}

async function commitEmptyLayer(store: BlobStore): Promise<CommittedLayer> {
  const size = EMPTY_LAYER.length;
  await store.putBytes(EMPTY_LAYER, { digest: EMPTY_LAYER_DIGEST, size });
  const descriptor = { mediaType: MediaType.OciLayerGzip, digest: EMPTY_LAYER_DIGEST, size };
  return { layer: storeLayer(store, descriptor, EMPTY_LAYER_DIFF_ID), diffId: EMPTY_LAYER_DIFF_ID, stored: Promise.resolve({ digest: EMPTY_LAYER_DIGEST, size }) };
}

/**
 * The file content a layer carries: what its progress counts. Hard links
 * that share a `linkKey` carry their content once, so their size counts once.
 */
function contentTotal(entries: readonly LayerEntry[]): number {
  const seen = new Set<string>();
  let total = 0;
  for (const entry of entries) {
    if (entry.kind !== 'file' || entry.size === 0) continue;
    // Only one of the files sharing a linkKey is opened (the first in tar order).
    if (entry.linkKey === undefined || !seen.has(entry.linkKey)) total += entry.size;
    if (entry.linkKey !== undefined) seen.add(entry.linkKey);
  }
  return total;
}
