/**
 * Files that appear whole or not at all: content goes to `FILE.tmp-XXXX`
 * next to the target (same filesystem), is fsynced, then renamed over the
 * target. On any failure the temp file is removed and the target untouched.
 * Only a regular file is replaced so: a symbolic link is followed to its
 * target, and a device or FIFO is written into (see write-target.ts).
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fsError } from '../fs-errors.js';
import { resolveWriteTarget } from './write-target.js';

export function tempPathFor(file: string): string {
  return `${file}.tmp-${randomBytes(6).toString('hex')}`;
}

/**
 * Stream `source` into `file` atomically. File system failures of the write
 * itself (EACCES, ENOSPC, ...) become the user's errors about `file`; errors
 * of `source` pass through unchanged.
 */
export async function writeStreamAtomic(file: string, source: Readable, mode = 0o644, options: { signal?: AbortSignal | undefined } = {}): Promise<void> {
  const action = 'write';
  const target = await resolveWriteTarget(file, action).catch((err: unknown) => {
    source.destroy();
    throw err;
  });
  const signal = options.signal === undefined ? {} : { signal: options.signal };
  if (target.kind === 'into') return writeStreamInto(target.path, source, signal);
  await replaceWithStream(target.path, source, mode, signal);
}

/** With `signal`, an abort stops the copy and removes the temp file before the promise rejects. */
async function replaceWithStream(file: string, source: Readable, mode: number, signal: { signal?: AbortSignal }): Promise<void> {
  const temp = tempPathFor(file);
  const action = 'write';
  const handle = await open(temp, 'wx', mode).catch((err: unknown) => {
    // Nobody will read `source`: destroy it, so whoever is producing into it stops.
    source.destroy();
    throw fsError(err, file, action);
  });
  try {
    await pipeline(source, fileHandleSink(handle, { file, action }), signal);
    await handle.sync().catch((err: unknown) => {
      throw fsError(err, file, action);
    });
    await handle.close();
    await rename(temp, file).catch((err: unknown) => {
      throw fsError(err, file, action);
    });
  } catch (err) {
    source.destroy();
    await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}

/** A device, FIFO or procfs link: written in place; there is nothing to sync or rename. */
async function writeStreamInto(file: string, source: Readable, signal: { signal?: AbortSignal }): Promise<void> {
  const action = 'write';
  // O_TRUNC matters only where the link leads to a regular file (a redirected /proc/self/fd/1).
  const handle = await open(file, constants.O_WRONLY | constants.O_TRUNC | constants.O_NOCTTY).catch((err: unknown) => {
    source.destroy();
    throw fsError(err, file, action);
  });
  try {
    await pipeline(source, fileHandleSink(handle, { file, action, backgroundFlush: false }), signal);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

export async function writeFileAtomic(file: string, data: Buffer, mode = 0o644): Promise<void> {
  await writeStreamAtomic(file, Readable.from([data]), mode);
}

/**
 * How much a sink writes between the flushes it starts in the background.
 * bench/push-pull measured 1-4 MiB as best for pulls; 32 MiB was clearly worse.
 */
const WRITEBACK_EVERY = 2 << 20;

/**
 * A Writable over an open FileHandle that leaves closing to the caller.
 * (FileHandle.createWriteStream with autoClose: false keeps a reference that
 * makes a later handle.close() wait forever.) `bytesWritten` counts what
 * reached the file.
 *
 * Every WRITEBACK_EVERY bytes it starts an fdatasync without waiting for it
 * (one at a time), so the disk writes while data still arrives. The kernel
 * would otherwise hold everything in the page cache until the caller's final
 * fsync and write it all then. A failed flush fails the stream: the kernel
 * reports a writeback error to a file descriptor only once.
 */
export class FileHandleSink extends Writable {
  bytesWritten = 0;
  private unflushed = 0;
  private flushing: Promise<void> | undefined;
  private flushError: Error | undefined;

  private readonly backgroundFlush: boolean;
  private readonly target: FileHandleSinkOptions['describe'];
  private readonly onWritten: FileHandleSinkOptions['onWritten'];

  /**
   * `backgroundFlush: false` for scratch files that are deleted soon: they may stay in the page cache.
   * `describe` names the file for the user: a failed write (ENOSPC, EIO) becomes their error about it.
   */
  constructor(
    private readonly handle: FileHandle,
    options: FileHandleSinkOptions = {},
  ) {
    // Let writev gather ~1 MiB per write call instead of one syscall per 64 KiB chunk.
    super({ highWaterMark: 1 << 20 });
    this.backgroundFlush = options.backgroundFlush ?? true;
    this.target = options.describe;
    this.onWritten = options.onWritten;
  }

  private failure(err: unknown): Error {
    return (this.target === undefined ? err : fsError(err, this.target.file, this.target.action)) as Error;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.writeChunks([chunk], cb);
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    this.writeChunks(
      chunks.map((c) => c.chunk),
      cb,
    );
  }

  override _final(cb: (err?: Error | null) => void): void {
    void (this.flushing ?? Promise.resolve()).then(() => cb(this.flushError ?? null));
  }

  private writeChunks(chunks: Buffer[], cb: (err?: Error | null) => void): void {
    if (this.flushError !== undefined) return cb(this.flushError);
    writeAll(this.handle, chunks).then(
      (n) => {
        this.bytesWritten += n;
        this.onWritten?.(this.bytesWritten);
        this.startFlush(n);
        cb();
      },
      (err: unknown) => cb(this.failure(err)),
    );
  }

  private startFlush(n: number): void {
    if (!this.backgroundFlush) return;
    this.unflushed += n;
    if (this.unflushed < WRITEBACK_EVERY || this.flushing !== undefined) return;
    this.unflushed = 0;
    this.flushing = this.handle.datasync().then(
      () => {
        this.flushing = undefined;
      },
      (err: unknown) => {
        this.flushError ??= this.failure(err);
        this.flushing = undefined;
      },
    );
  }
}

export interface FileHandleSinkOptions {
  backgroundFlush?: boolean;
  /** Told the total written each time more of it reached the file (a reader may follow the writer). */
  onWritten?: (bytesWritten: number) => void;
  describe?: { file: string; action: string };
}

export function fileHandleSink(handle: FileHandle, options: FileHandleSinkOptions & { file?: string; action?: string } = {}): FileHandleSink {
  const { file, action, ...rest } = options;
  return new FileHandleSink(handle, file === undefined ? rest : { ...rest, describe: { file, action: action ?? 'write' } });
}

/** Write all of `chunks` (one writev call unless the kernel takes less); returns the byte count. */
async function writeAll(handle: FileHandle, chunks: Buffer[]): Promise<number> {
  let total = 0;
  for (const c of chunks) total += c.length;
  let pending = chunks;
  let left = total;
  while (left > 0) {
    const { bytesWritten } = await handle.writev(pending);
    left -= bytesWritten;
    if (left > 0) pending = unwritten(pending, bytesWritten);
  }
  return total;
}

function unwritten(chunks: Buffer[], skip: number): Buffer[] {
  const rest: Buffer[] = [];
  for (const c of chunks) {
    if (skip >= c.length) {
      skip -= c.length;
      continue;
    }
    rest.push(skip > 0 ? c.subarray(skip) : c);
    skip = 0;
  }
  return rest;
}
