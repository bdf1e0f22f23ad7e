/**
 * A layer blob in one streaming pass:
 *
 *   tar -> sha256 (diffID) -> gzip -> sha256 + byte count (digest, size)
 *
 * gzip runs on every core (parallel-gzip.ts), with output that does not
 * depend on the core count.
 *
 * Nothing is buffered beyond each stage's high-water mark, so memory does
 * not grow with the layer. The digest is known only once the stream has
 * been read to its end: that is why it comes as a separate promise rather
 * than as a property of the stream.
 *
 * gzip level: DEFAULT_GZIP_LEVEL unless given (gzip-level.ts says why).
 */
import { createHash, type Hash } from 'node:crypto';
import { Readable, Transform, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import type { Digest } from '../src/oci/digest.js';
import { HoistError } from '../src/errors.js';
import type { BlockDeflater } from './deflate-pool.js';
import { createParallelGzip, type ParallelGzipOptions } from './parallel-gzip.js';
import { DEFAULT_GZIP_LEVEL, GZIP_LEVEL_HINT, isGzipLevel } from './gzip-level.js';
import { layerTarChunks, type EntrySource, type TarOptions } from './layer-tar.js';

export type { EntrySource, TarOptions } from './layer-tar.js';

const CHUNK = 64 * 1024;

export interface LayerOptions extends TarOptions {
  /** 0 (store) to 9; default DEFAULT_GZIP_LEVEL. */
  gzipLevel?: number;
  /** Blocks compressed at once (parallel-gzip.ts); does not change the output. Default: CPUs + 1. */
  gzipConcurrency?: number;
  /** Where the blocks are deflated (DeflatePool's threads); does not change the output. Default: libuv's pool. */
  deflate?: BlockDeflater | undefined;
}

export interface LayerResult {
  /** sha256 of the uncompressed tar: what the image config's rootfs.diff_ids lists. */
  diffId: Digest;
  /** sha256 of the gzip bytes: what the manifest's layer descriptor names. */
  digest: Digest;
  /** Bytes of gzip, the descriptor's size. */
  size: number;
  /** Bytes of tar. */
  uncompressedSize: number;
}

export interface LayerStream {
  /** The gzip bytes. Read it to the end (or pipe it) for `result` to settle. */
  stream: Readable;
  /** Settles once `stream` has produced its last byte; rejects with the stream's error. */
  result: Promise<LayerResult>;
}

/** Touches nothing (no entry is opened) until `stream` is first read. */
export function createLayer(entries: EntrySource, opts: LayerOptions = {}): LayerStream {
  // Pipes pull as soon as they are connected; the gate keeps the first
  // entry from being touched until someone reads the layer.
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  async function* gatedTar(): AsyncGenerator<Buffer, void, undefined> {
    await opened;
    yield* layerTarChunks(entries, opts);
  }
  const tar = Readable.from(gatedTar(), { objectMode: false, highWaterMark: CHUNK });
  const tarTap = new DigestTap();
  const gzip = createParallelGzip(gzipOptions(opts));
  const gzipTap = new DigestTap(() => open());

  let settle!: (err: Error | null | undefined) => void;
  const result = new Promise<LayerResult>((resolve, reject) => {
    settle = (err) => {
      if (err) {
        reject(err);
        return;
      }
      resolve({ diffId: tarTap.digest(), digest: gzipTap.digest(), size: gzipTap.bytes, uncompressedSize: tarTap.bytes });
    };
  });
  // The same error reaches whoever reads `stream`; a caller that only reads
  // the stream must not get an unhandled rejection on top.
  result.catch(() => undefined);
  const stream = pipeline(tar, tarTap, gzip, gzipTap, (err) => settle(err));
  return { stream, result };
}

export interface TarResult {
  /** sha256 of the tar: the layer's diffID. */
  diffId: Digest;
  /** Bytes of tar. */
  size: number;
}

/**
 * The layer's tar alone, piped into `sink` (a spool file), with its diffID:
 * the part of a layer a build waits for. `gzipTar` compresses it later.
 */
export async function writeLayerTar(entries: EntrySource, opts: TarOptions, sink: Writable, signal?: AbortSignal): Promise<TarResult> {
  const tarTap = new DigestTap();
  const tar = Readable.from(layerTarChunks(entries, opts), { objectMode: false, highWaterMark: CHUNK });
  await pipelineAsync(tar, tarTap, sink, signal === undefined ? {} : { signal });
  return { diffId: tarTap.digest(), size: tarTap.bytes };
}

/**
 * A layer tar (written by `writeLayerTar`) compressed as createLayer
 * compresses it: the same bytes, so the same digest, as the one pass.
 * Errors of `tar` reach whoever reads the result.
 */
export function gzipTar(tar: Readable, opts: Pick<LayerOptions, 'gzipLevel' | 'gzipConcurrency' | 'deflate'> = {}): Readable {
  const gzip = createParallelGzip(gzipOptions(opts));
  return pipeline(tar, gzip, () => undefined);
}

function gzipOptions(opts: Pick<LayerOptions, 'gzipLevel' | 'gzipConcurrency' | 'deflate'>): ParallelGzipOptions {
  const options: ParallelGzipOptions = { level: checkedLevel(opts.gzipLevel), deflate: opts.deflate };
  if (opts.gzipConcurrency !== undefined) options.concurrency = opts.gzipConcurrency;
  return options;
}

function checkedLevel(gzipLevel: number | undefined): number {
  const level = gzipLevel ?? DEFAULT_GZIP_LEVEL;
  if (!isGzipLevel(level)) throw new HoistError('INVALID_OPTION', `gzip level must be an integer from 0 to 9, got ${level}`, { hint: GZIP_LEVEL_HINT });
  return level;
}

/** createLayer piped into `sink`; resolves when the sink has finished. */
export async function writeLayer(entries: EntrySource, opts: LayerOptions, sink: Writable): Promise<LayerResult> {
  const { stream, result } = createLayer(entries, opts);
  await pipelineAsync(stream, sink);
  return result;
}

/** Passes bytes through unchanged, hashing and counting them. */
class DigestTap extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private count = 0;
  private final_: Digest | undefined;

  constructor(private onFirstRead?: () => void) {
    super();
  }

  override _read(size: number): void {
    const first = this.onFirstRead;
    if (first !== undefined) {
      this.onFirstRead = undefined;
      first();
    }
    super._read(size);
  }

  get bytes(): number {
    return this.count;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.count += chunk.length;
    callback(null, chunk);
  }

  digest(): Digest {
    this.final_ ??= `sha256:${this.hash.digest('hex')}`;
    return this.final_;
  }
}
