/**
 * Applying a layer to a rootfs while its tar is still being written (a
 * COPY's, when a RUN later in the stage needs the files on disk): the files
 * are made as the tar grows instead of after it. On a worker thread
 * (unpack-worker.ts) where hoist runs from its build output, so that the
 * file creation runs beside the main thread's tar writing; on the main
 * thread, following the writer all the same, where there is none (tests
 * run from the sources).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { HoistError } from '../../src/errors.js';
import { applyLayers, type ApplySummary } from './apply.js';
import type { UnpackFailure, UnpackJob } from './unpack-worker.js';
import { follow, type WriteProgress } from './write-progress.js';

/** A layer's tar being written to `file`, and how far its writer is; `done` once it is no longer read (the file may go then). */
export interface GrowingTar {
  file: string;
  progress: WriteProgress;
  done: () => void;
}

type Reply = { summary: ApplySummary } | { failure: UnpackFailure };

export class FollowingUnpack {
  private worker: Worker | undefined;
  /** Jobs run one after another, in the order given (a later layer goes over an earlier one). */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly script: string | undefined = workerScript()) {}

  /** Apply `tar` to the rootfs at `dir` as it is written; resolves once the whole layer is applied. */
  apply(dir: string, tar: GrowingTar, signal?: AbortSignal): Promise<ApplySummary> {
    const run = this.queue
      .then(() => (this.script === undefined ? applyLayers(dir, [follow(tar.file, tar.progress)], signal ? { signal } : {}) : this.onWorker(dir, tar, signal)))
      .finally(() => tar.done());
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Stops the worker (a job still running fails). */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private onWorker(dir: string, tar: GrowingTar, signal: AbortSignal | undefined): Promise<ApplySummary> {
    signal?.throwIfAborted();
    const worker = (this.worker ??= new Worker(this.script as string, { resourceLimits: { maxYoungGenerationSizeMb: 4 } }));
    worker.unref();
    return new Promise<ApplySummary>((resolve, reject) => {
      const done = (): void => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        signal?.removeEventListener('abort', onAbort);
      };
      const onMessage = (reply: Reply): void => {
        done();
        if ('summary' in reply) resolve(reply.summary);
        else reject(reply.failure.code !== undefined ? new HoistError(reply.failure.code, reply.failure.message, reply.failure.hint !== undefined ? { hint: reply.failure.hint } : {}) : new Error(reply.failure.message));
      };
      const onError = (err: Error): void => {
        done();
        this.worker = undefined;
        reject(err);
      };
      const onExit = (code: number): void => {
        done();
        this.worker = undefined;
        reject(signal?.aborted === true ? signal.reason : new Error(`the unpack worker exited (${code})`));
      };
      const onAbort = (): void => void this.close();
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      signal?.addEventListener('abort', onAbort, { once: true });
      const job: UnpackJob = { dir, file: tar.file, progress: tar.progress.buffer };
      worker.postMessage(job);
    });
  }
}

/**
 * unpack-worker.js beside this module (tsc's output), or where the bundled
 * CLI (dist/bin) finds it; undefined when running from the TypeScript
 * sources, which a worker cannot load.
 */
function workerScript(): string | undefined {
  const url = import.meta.url;
  const here = path.dirname(url.startsWith('file:') ? fileURLToPath(url) : url);
  return [path.join(here, 'unpack-worker.js'), path.join(here, '..', 'snapshot', 'rootfs', 'unpack-worker.js')].find((p) => existsSync(p));
}
