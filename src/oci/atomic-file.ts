/**
 * Files that appear whole or not at all: content goes to `FILE.tmp-XXXX`
 * next to the target (same filesystem), is fsynced, then renamed over the
 * target. On any failure the temp file is removed and the target untouched.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export function tempPathFor(file: string): string {
  return `${file}.tmp-${randomBytes(6).toString('hex')}`;
}

/** Stream `source` into `file` atomically. */
export async function writeStreamAtomic(file: string, source: Readable, mode = 0o644): Promise<void> {
  const temp = tempPathFor(file);
  const handle = await open(temp, 'wx', mode).catch((err: unknown) => {
    // Nobody will read `source`: destroy it, so whoever is producing into it stops.
    source.destroy();
    throw err;
  });
  try {
    await pipeline(source, fileHandleSink(handle));
    await handle.sync();
    await handle.close();
    await rename(temp, file);
  } catch (err) {
    source.destroy();
    await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}

export async function writeFileAtomic(file: string, data: Buffer, mode = 0o644): Promise<void> {
  await writeStreamAtomic(file, Readable.from([data]), mode);
}

/** How much a sink writes between the flushes it starts in the background. */
const WRITEBACK_EVERY = 8 << 20;

/**
 * A Writable over an open FileHandle that leaves closing to the caller.
 * (FileHandle.createWriteStream with autoClose: false keeps a reference that
 * makes a later handle.close() wait forever.)
 *
 * Every WRITEBACK_EVERY bytes it starts an fdatasync without waiting for it
 * (one at a time), so the disk writes while data still arrives. The kernel
 * would otherwise hold everything in the page cache until the caller's final
 * fsync and write it all then. A failed flush fails the stream: the kernel
 * reports a writeback error to a file descriptor only once.
 */
export function fileHandleSink(handle: FileHandle): Writable {
  let unflushed = 0;
  let flushing: Promise<void> | undefined;
  let flushError: unknown;
  const written = (n: number): void => {
    unflushed += n;
    if (unflushed < WRITEBACK_EVERY || flushing !== undefined) return;
    unflushed = 0;
    flushing = handle.datasync().then(
      () => (flushing = undefined),
      (err: unknown) => {
        flushError ??= err;
        flushing = undefined;
      },
    );
  };
  const write = (chunks: Buffer[], cb: (err?: Error | null) => void): void => {
    if (flushError !== undefined) return cb(flushError as Error);
    writeAll(handle, chunks).then((n) => {
      written(n);
      cb();
    }, cb);
  };
  return new Writable({
    // Let writev gather ~1 MiB per write call instead of one syscall per 64 KiB chunk.
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, cb) {
      write([chunk], cb);
    },
    writev(chunks, cb) {
      write(
        chunks.map((c) => c.chunk as Buffer),
        cb,
      );
    },
    final(cb) {
      void (flushing ?? Promise.resolve()).then(() => cb((flushError as Error | undefined) ?? null));
    },
  });
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
