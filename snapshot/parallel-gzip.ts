/**
 * gzip on several cores, as pigz does it: the input is cut into fixed-size
 * blocks; each block is deflated on its own (in libuv's thread pool, or on
 * DeflatePool's threads) at zlib's memLevel GZIP_MEM_LEVEL, with
 * the previous block's last 32 KiB as its dictionary, ended with a sync
 * flush so the raw deflate streams concatenate; the last block finishes the
 * stream. One gzip member, readable by any gunzip. A block deflate could
 * not shrink (compressed files, noise) is stored instead, at zlib's level 0
 * (incompressible.ts): deflating it cost as much CPU as text, for nothing.
 *
 * The output depends only on the input bytes, the level and the block size,
 * never on how many blocks ran at once or how the input was chunked: the
 * same tar gives the same digest on a 2-core CI runner and a 64-core
 * workstation (given the same zlib build: Node bundles Chromium's zlib, and
 * deflate output may change between zlib versions, as with every gzip).
 * With a dictionary per block the size cost against one deflate stream is
 * small (about 0.1% on mixed content).
 *
 * Costs kept off the main thread and the allocator, which the cores doing
 * the deflating wait for (bench/layer, CPU profile): each block is one trip
 * through the thread pool, into an output buffer larger than any deflated
 * block (with Node's default 16 KiB a block took about ten trips, each a
 * main-thread callback and a fresh buffer), and input blocks are reused.
 *
 * The bytes are still those of 16 KiB output buffers, which every layer so
 * far was written with: zlib's output does not depend on the buffer size,
 * except that when a sync flush ends within 6 bytes of filling a buffer,
 * Node calls deflate once more and zlib appends a second empty stored block
 * (5 bytes). The rare block whose output ends that close to a multiple of
 * 16 KiB (about 1 in 3,000) is deflated again with 16 KiB buffers. A
 * stored block (level 0) is made with 16 KiB buffers, whose size its
 * stored blocks follow; the last one with the sync API, on the calling
 * thread (see deflateInThreadPool).
 */
import { availableParallelism } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import { constants, crc32, deflateRaw, deflateRawSync, type ZlibOptions } from 'node:zlib';
import type { BlockDeflater } from './deflate-pool.js';
import { blockOptions } from './incompressible.js';

export interface ParallelGzipOptions {
  level: number;
  /**
   * Blocks deflated at once. Default: CPUs + 1, so that the cores stay busy
   * while the main thread cuts the next block. libuv runs at most
   * UV_THREADPOOL_SIZE (default 4) at once, shared with fs calls; a CLI on a
   * big machine may raise it before anything touches the pool.
   */
  concurrency?: number;
  /**
   * Blocks taken in and not yet emitted: deflating, waiting for a slot, or
   * deflated and waiting for an older block. Default: 2 x concurrency, so
   * that a block that finished early frees its slot for the next one
   * instead of holding it until the oldest is emitted (bench/layer).
   */
  depth?: number;
  /**
   * Deflates one block as `deflateRawSync(data, options)` would, elsewhere
   * (DeflatePool's threads); default: in libuv's pool.
   */
  deflate?: BlockDeflater | undefined;
}

/** Fixed: changing it changes every digest. */
export const GZIP_BLOCK_SIZE = 256 * 1024;
const WINDOW = 32 * 1024;
/** More than deflate can make of one block (stored blocks add 5 bytes per 64 KiB), so a block needs one output buffer. */
const OUT_CHUNK = GZIP_BLOCK_SIZE + 64 * 1024;

export function createParallelGzip(opts: ParallelGzipOptions): Transform {
  const concurrency = Math.max(1, opts.concurrency ?? availableParallelism() + 1);
  return new ParallelGzip(opts.level, concurrency, Math.max(concurrency, opts.depth ?? 2 * concurrency), opts.deflate ?? deflateInThreadPool);
}

/**
 * zlib's memLevel for blocks: 9, a hash table and Huffman blocks twice the
 * size of zlib's default 8. At levels 1-9 it took 6-15% less deflate CPU
 * for 0.2-0.4% more bytes (Debian 12 minbase, /usr/lib, the
 * build-vs-buildah context; 256 KiB blocks).
 */
export const GZIP_MEM_LEVEL = 9;

/** Node's default output buffer (zlib.constants.Z_DEFAULT_CHUNK): what the output must stay the same as. */
const LEGACY_OUT_CHUNK = 16 * 1024;

/**
 * A block deflated in libuv's thread pool: the default BlockDeflater. Whether
 * the block is stored is judged here, on the calling thread (about a fifth
 * of a deflate's time on noise, less than 1% of it on other bytes).
 */
export async function deflateInThreadPool(data: Buffer, blockOpts: ZlibOptions): Promise<Buffer> {
  const options = blockOptions(data, blockOpts);
  if (options.level === 0) {
    // Stored blocks are cut where zlib's calls end. The async API hands over the data,
    // then Z_FINISH on nothing: a last block of 32-64 KiB (or of certain larger sizes)
    // came out 5 bytes longer than from deflateRawSync's one call, the worker's and the
    // format's way. The last block is stored here, then (a memory copy, this thread).
    return options.finishFlush === constants.Z_SYNC_FLUSH ? deflateRawAsync(data, options) : deflateRawSync(data, options);
  }
  const out = await deflateRawAsync(data, { ...options, chunkSize: OUT_CHUNK });
  const boundary = out.length - (out.length % LEGACY_OUT_CHUNK);
  if (boundary > 0 && boundary > out.length - 6) return deflateRawAsync(data, options);
  return out;
}

function deflateRawAsync(data: Buffer, options: ZlibOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => deflateRaw(data, options, (err, out) => (err ? reject(err) : resolve(out))));
}

interface Job {
  /** The input, which zlib reads until the job settles. */
  block: Buffer;
  deflated: Promise<Buffer>;
}

class ParallelGzip extends Transform {
  private block: Buffer = Buffer.allocUnsafe(GZIP_BLOCK_SIZE);
  private used = 0;
  private dictionary: Buffer | undefined;
  private crc = 0;
  private isize = 0;
  /** Blocks in input order, oldest first. */
  private readonly inFlight: Job[] = [];
  /** Deflates waiting for one of the `concurrency` slots, in input order. */
  private readonly waiting: Array<() => void> = [];
  private running = 0;
  /** Input blocks no job reads any more, ready to be filled again. */
  private readonly free: Buffer[] = [];
  /**
   * The block of the job last emitted: the job after it may still deflate
   * again (deflateInThreadPool) with this block's tail as its dictionary.
   */
  private held: Buffer | undefined;
  /** Written with the first output, not at construction, so an unread layer produces nothing. */
  private headerWritten = false;

  constructor(
    private readonly level: number,
    private readonly concurrency: number,
    private readonly depth: number,
    private readonly deflate: BlockDeflater,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.consume(chunk).then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    this.finish().then(() => callback(), callback);
  }

  private async consume(chunk: Buffer): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(GZIP_BLOCK_SIZE - this.used, chunk.length - offset);
      chunk.copy(this.block, this.used, offset, offset + n);
      this.used += n;
      offset += n;
      if (this.used === GZIP_BLOCK_SIZE) {
        this.submit(false);
        // Bounded work in flight: wait for the oldest block before taking more input.
        while (this.inFlight.length >= this.depth) await this.emitOldest();
      }
    }
  }

  private async finish(): Promise<void> {
    this.submit(true);
    while (this.inFlight.length > 0) await this.emitOldest();
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(this.crc >>> 0, 0);
    trailer.writeUInt32LE(this.isize, 4);
    this.push(trailer);
  }

  private async emitOldest(): Promise<void> {
    const oldest = this.inFlight.shift();
    if (oldest === undefined) return;
    const deflated = await oldest.deflated;
    if (this.held !== undefined) this.free.push(this.held);
    this.held = oldest.block;
    if (!this.headerWritten) {
      this.headerWritten = true;
      this.push(gzipHeader(this.level));
    }
    this.push(deflated);
  }

  /** Deflates the current block (possibly empty, when last) and starts a new one. */
  private submit(last: boolean): void {
    const data = this.block.subarray(0, this.used);
    this.crc = crc32(data, this.crc);
    this.isize = (this.isize + data.length) % 2 ** 32;
    const options: ZlibOptions = { level: this.level, memLevel: GZIP_MEM_LEVEL, finishFlush: last ? constants.Z_FINISH : constants.Z_SYNC_FLUSH };
    if (this.dictionary !== undefined) options.dictionary = this.dictionary;
    const deflated = this.deflateInTurn(data, options);
    deflated.catch(() => undefined); // awaited in order later; an early failure must not be "unhandled" meanwhile
    this.inFlight.push({ block: this.block, deflated });
    // Full blocks are at least WINDOW long, so the tail of this block alone is the next dictionary.
    this.dictionary = data.length >= WINDOW ? data.subarray(data.length - WINDOW) : undefined;
    this.block = this.free.pop() ?? Buffer.allocUnsafe(GZIP_BLOCK_SIZE);
    this.used = 0;
  }

  /**
   * Deflates `data` once a slot is free. Blocks wait here rather than in
   * libuv's queue, so that no more than `concurrency` deflates share the
   * cores and the pool keeps threads for fs calls, while up to `depth`
   * blocks are taken in: a slot freed while an older block is still
   * deflating goes to the next one at once, not after the oldest is emitted.
   */
  private deflateInTurn(data: Buffer, options: ZlibOptions): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const start = (): void => {
        this.running += 1;
        const done = (): void => {
          this.running -= 1;
          this.waiting.shift()?.();
        };
        this.deflate(data, options).then(
          (out) => {
            done();
            resolve(out);
          },
          (err: unknown) => {
            done();
            reject(err);
          },
        );
      };
      if (this.running < this.concurrency) start();
      else this.waiting.push(start);
    });
  }
}

/** RFC 1952 header: no name, no mtime (0), OS 255 "unknown" so the bytes do not name the build machine. */
function gzipHeader(level: number): Buffer {
  const xfl = level === 9 ? 2 : level === 1 ? 4 : 0;
  return Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, xfl, 0xff]);
}
