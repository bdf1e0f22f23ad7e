/**
 * Worker threads that deflate parallel-gzip's blocks (deflate-worker.ts),
 * at a lower scheduling priority than the rest of the build.
 *
 * A build compresses each layer in the background while its next steps run
 * (layer-commit.ts). In libuv's pool the deflates took the cores on equal
 * terms with the work the build waits for: on 2 cores, the files of a COPY
 * unpacked ahead of a RUN got about half a core while a 64 MiB layer was
 * compressed beside them, and the RUN started 0.6-0.9 s later, to leave a
 * core idle once it ran (bench/build-vs-buildah). Lowering the pool's
 * priority did not help: it also serves the main thread's file reads.
 * Here the deflates have threads of their own, which yield to everything
 * else and take what is left.
 *
 * The output is the same as deflating in libuv's pool: same zlib, same
 * options, same judgement of which blocks are stored, same 16 KiB output
 * buffers (parallel-gzip.ts).
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { constants, type ZlibOptions } from 'node:zlib';
import type { DeflateJob, DeflateReply, DeflateWorkerData } from './deflate-worker.js';

/**
 * Deflates one block: what ParallelGzip calls for each (parallel-gzip.ts),
 * with the bytes of `deflateRawSync(data, blockOptions(data, options))`
 * (stored when incompressible.ts judges so).
 */
export type BlockDeflater = (data: Buffer, options: ZlibOptions) => Promise<Buffer>;

/**
 * How much the deflate threads add to hoist's nice value: enough that the
 * build's other threads and its RUN processes get a core first when they
 * contend (CFS weight 110 against 1024 at nice 10 against 0), not so much
 * that other low-priority work on the machine starves them.
 */
export const DEFLATE_NICE = 10;

/** A block and its dictionary (parallel-gzip's): the size of the input buffers. */
const INPUT_SIZE = 256 * 1024 + 32 * 1024;

/**
 * As many deflates at once as libuv's pool ran (4 threads by default):
 * each thread is a V8 isolate of its own (about 10 MB), and a build's
 * layers rarely keep more cores busy than that.
 */
const MAX_THREADS = 4;

export interface DeflatePoolOptions {
  /** The worker's script (deflate-worker.js). */
  script: string;
  /** Threads; default the number of CPUs, at most MAX_THREADS. */
  size?: number;
  /** Default DEFLATE_NICE. */
  nice?: number;
}

interface Job {
  message: DeflateJob;
  resolve: (out: Buffer) => void;
  reject: (err: Error) => void;
}

interface Thread {
  worker: Worker;
  job: Job | undefined;
}

export class DeflatePool {
  private readonly threads: Thread[] = [];
  private readonly queue: Job[] = [];
  /** Input buffers the threads sent back, for the next blocks. */
  private readonly spare: ArrayBuffer[] = [];
  private nextId = 0;
  private closed = false;
  private readonly size: number;
  private readonly nice: number;

  constructor(private readonly opts: DeflatePoolOptions) {
    this.size = Math.max(1, opts.size ?? Math.min(MAX_THREADS, availableParallelism()));
    this.nice = opts.nice ?? DEFLATE_NICE;
  }

  /**
   * Deflates `data` as `deflateRawSync(data, blockOptions(data, options))`
   * would (level, memLevel, finishFlush and dictionary are read); the
   * thread judges whether the block is stored.
   */
  deflate(data: Buffer, options: ZlibOptions): Promise<Buffer> {
    if (this.closed) return Promise.reject(new Error('the deflate pool is closed'));
    const dictionary = options.dictionary === undefined ? undefined : Buffer.from(options.dictionary as Uint8Array);
    const length = (dictionary?.length ?? 0) + data.length;
    const input = new Uint8Array(this.inputBuffer(length), 0, length);
    if (dictionary !== undefined) input.set(dictionary, 0);
    input.set(data, dictionary?.length ?? 0);
    const message: DeflateJob = {
      id: this.nextId++,
      input: input.buffer as ArrayBuffer,
      inputLength: length,
      dictionaryLength: dictionary?.length ?? 0,
      level: options.level ?? -1,
      memLevel: options.memLevel ?? constants.Z_DEFAULT_MEMLEVEL,
      finishFlush: options.finishFlush ?? constants.Z_FINISH,
    };
    return new Promise<Buffer>((resolve, reject) => {
      this.queue.push({ message, resolve, reject });
      this.dispatch();
    });
  }

  /**
   * The blocks queued and not yet started go to `deflater` instead (libuv's
   * pool, at the normal priority, once the build waits for them alone).
   */
  handOff(deflater: BlockDeflater): void {
    for (const job of this.queue.splice(0)) {
      const { data, options } = jobBlock(job.message);
      deflater(data, options).then(job.resolve, job.reject);
    }
  }

  /** Stops the threads; blocks not yet deflated fail. */
  async close(): Promise<void> {
    this.closed = true;
    const closed = new Error('the deflate pool is closed');
    for (const job of this.queue.splice(0)) job.reject(closed);
    const threads = this.threads.splice(0);
    for (const t of threads) t.job?.reject(closed);
    await Promise.all(threads.map((t) => t.worker.terminate()));
  }

  /** An input buffer of at least `length` bytes: one a thread sent back, or a new one. */
  private inputBuffer(length: number): ArrayBuffer {
    const index = this.spare.findIndex((b) => b.byteLength >= length);
    return index >= 0 ? (this.spare.splice(index, 1)[0] as ArrayBuffer) : new ArrayBuffer(Math.max(length, INPUT_SIZE));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let thread: Thread | undefined;
      try {
        thread = this.threads.find((t) => t.job === undefined) ?? (this.threads.length < this.size ? this.start() : undefined);
      } catch (err) {
        // No thread could start (out of memory, say): the blocks waiting fail, as a block of libuv's would.
        for (const job of this.queue.splice(0)) job.reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      if (thread === undefined) return;
      const job = this.queue.shift() as Job;
      thread.job = job;
      // A thread at work keeps the process alive: its block is awaited.
      thread.worker.ref();
      thread.worker.postMessage(job.message, [job.message.input]);
    }
  }

  private start(): Thread {
    const workerData: DeflateWorkerData = { nice: this.nice };
    const worker = new Worker(this.opts.script, { workerData, resourceLimits: { maxYoungGenerationSizeMb: 4 } });
    const thread: Thread = { worker, job: undefined };
    worker.on('message', (reply: DeflateReply) => {
      const job = thread.job;
      thread.job = undefined;
      worker.unref();
      if (this.spare.length < 2 * this.size) this.spare.push(reply.input);
      if (job !== undefined) {
        if (job.message.id !== reply.id) job.reject(new Error(`a deflate thread answered block ${reply.id} for block ${job.message.id}`));
        else if ('output' in reply) job.resolve(Buffer.from(reply.output));
        else job.reject(new Error(`deflate failed: ${reply.error}`));
      }
      this.dispatch();
    });
    const lost = (err: Error): void => {
      const index = this.threads.indexOf(thread);
      if (index < 0) return;
      this.threads.splice(index, 1);
      thread.job?.reject(err);
      thread.job = undefined;
      if (!this.closed) this.dispatch();
    };
    worker.on('error', lost);
    worker.on('messageerror', (err) => {
      lost(err);
      void worker.terminate();
    });
    worker.on('exit', (code) => lost(new Error(`a deflate thread exited (${code})`)));
    this.threads.push(thread);
    return thread;
  }
}

/** The block and the options a job carries: what `deflate` was given. */
export function jobBlock(job: DeflateJob): { data: Buffer; options: ZlibOptions } {
  const input = Buffer.from(job.input, 0, job.inputLength);
  const options: ZlibOptions = { level: job.level, memLevel: job.memLevel, finishFlush: job.finishFlush };
  if (job.dictionaryLength > 0) options.dictionary = input.subarray(0, job.dictionaryLength);
  return { data: input.subarray(job.dictionaryLength), options };
}

/**
 * deflate-worker.js beside this module (tsc's output), or where the bundled
 * CLI (dist/bin) finds it; undefined when running from the TypeScript
 * sources, which a worker cannot load (blocks are then deflated in libuv's
 * pool, with the same output).
 */
export function deflateWorkerScript(): string | undefined {
  const url = import.meta.url;
  const here = path.dirname(url.startsWith('file:') ? fileURLToPath(url) : url);
  return [path.join(here, 'deflate-worker.js'), path.join(here, '..', 'snapshot', 'deflate-worker.js')].find((p) => existsSync(p));
}
