/**
 * A worker thread that applies layers to a rootfs while their tar is still
 * being written (FollowingUnpack sends the jobs, one at a time). Making
 * thousands of files is system calls on the thread that makes them: here
 * they run beside the main thread, which goes on writing the tar.
 */
import { parentPort } from 'node:worker_threads';
import { HoistError } from '../../src/errors.js';
import { applyLayers } from './apply.js';
import { followSync, WriteProgress } from './write-progress.js';

export interface UnpackJob {
  dir: string;
  file: string;
  progress: SharedArrayBuffer;
}

/** What a failed job posts back: enough to rebuild the error on the main thread. */
export interface UnpackFailure {
  message: string;
  code?: string;
  hint?: string;
}

async function* chunksOf(file: string, progress: WriteProgress): AsyncGenerator<Buffer, void, undefined> {
  yield* followSync(file, progress);
}

parentPort?.on('message', (job: UnpackJob) => {
  applyLayers(job.dir, [chunksOf(job.file, new WriteProgress(job.progress))]).then(
    (summary) => parentPort?.postMessage({ summary }),
    (err: unknown) => {
      const failure: UnpackFailure =
        err instanceof HoistError ? { message: err.message, code: err.code, ...(err.hint !== undefined ? { hint: err.hint } : {}) } : { message: err instanceof Error ? err.message : String(err) };
      parentPort?.postMessage({ failure });
    },
  );
});
