/**
 * How far the writer of a file is (bytes written, and whether it finished or
 * failed), in shared memory: a reader on another thread follows the file as
 * it is written and blocks while it has caught up; a reader on the writer's
 * thread waits asynchronously instead.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';

const WRITTEN = 0;
const STATE = 1;
const WRITING = 0n;
const DONE = 1n;
const FAILED = 2n;

/** How much a follower reads at once. */
const FOLLOW_READ = 1 << 20;
/** A blocked follower looks again this often, whatever it was told. */
const RECHECK_MS = 1000;

export class WriteProgress {
  private readonly cells: BigInt64Array;
  /** Followers on this thread waiting for more. */
  private waiting: Array<() => void> = [];

  /** A new progress, or (in another thread) the one whose `buffer` was passed there. */
  constructor(readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(16)) {
    this.cells = new BigInt64Array(buffer);
  }

  /** The writer has put `bytesWritten` bytes in the file. */
  grew(bytesWritten: number): void {
    Atomics.store(this.cells, WRITTEN, BigInt(bytesWritten));
    this.wake();
  }

  /** The writer wrote it all. */
  finished(): void {
    Atomics.store(this.cells, STATE, DONE);
    this.wake();
  }

  /** The writer stopped short: followers fail. */
  failed(): void {
    Atomics.store(this.cells, STATE, FAILED);
    this.wake();
  }

  get written(): number {
    return Number(Atomics.load(this.cells, WRITTEN));
  }

  private get state(): bigint {
    return Atomics.load(this.cells, STATE);
  }

  /** Until more than `position` bytes are written or the writer stops, blocking this thread (never the writer's). */
  waitSync(position: number): void {
    while (this.written <= position && this.state === WRITING) Atomics.wait(this.cells, WRITTEN, BigInt(position), RECHECK_MS);
  }

  /** Until more than `position` bytes are written or the writer stops, on the writer's thread. */
  async wait(position: number): Promise<void> {
    while (this.written <= position && this.state === WRITING) await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  /** After catching up at `position`: true at the end of the file, an error if the writer failed, false if there is more. */
  ended(position: number, file: string): boolean {
    if (position < this.written) return false;
    if (this.state === FAILED) throw new Error(`the layer being written to ${file} was not finished`);
    return this.state === DONE;
  }

  private wake(): void {
    Atomics.notify(this.cells, WRITTEN);
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve();
  }
}

/** The bytes of `file` as its writer writes them, read with blocking calls (for a worker thread). */
export function* followSync(file: string, progress: WriteProgress): Generator<Buffer, void, undefined> {
  const fd = openSync(file, 'r');
  try {
    let position = 0;
    for (;;) {
      progress.waitSync(position);
      if (progress.ended(position, file)) return;
      const want = Math.min(progress.written - position, FOLLOW_READ);
      const buffer = Buffer.allocUnsafe(want);
      const n = readSync(fd, buffer, 0, want, position);
      if (n === 0) throw new Error(`${file} holds less than its writer wrote`);
      position += n;
      yield n === want ? buffer : buffer.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
}

/** The bytes of `file` as its writer (on this thread) writes them. */
export async function* follow(file: string, progress: WriteProgress): AsyncGenerator<Buffer, void, undefined> {
  const handle = await open(file, 'r');
  try {
    yield* followWith(async (buffer, position) => (await handle.read(buffer, 0, buffer.length, position)).bytesRead, file, progress);
  } finally {
    await handle.close();
  }
}

/**
 * The bytes of `file` as its writer (on this thread) writes them, each
 * piece read with `readAt` (into the whole buffer, at a position: the bytes
 * read), from a file the caller opened and closes.
 */
export async function* followWith(
  readAt: (buffer: Buffer, position: number) => Promise<number>,
  file: string,
  progress: WriteProgress,
): AsyncGenerator<Buffer, void, undefined> {
  let position = 0;
  for (;;) {
    await progress.wait(position);
    if (progress.ended(position, file)) return;
    const want = Math.min(progress.written - position, FOLLOW_READ);
    const buffer = Buffer.allocUnsafe(want);
    const n = await readAt(buffer, position);
    if (n === 0) throw new Error(`${file} holds less than its writer wrote`);
    position += n;
    yield n === want ? buffer : buffer.subarray(0, n);
  }
}
