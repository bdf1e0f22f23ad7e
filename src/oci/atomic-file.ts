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

/**
 * A Writable over an open FileHandle that leaves closing to the caller.
 * (FileHandle.createWriteStream with autoClose: false keeps a reference that
 * makes a later handle.close() wait forever.)
 */
export function fileHandleSink(handle: FileHandle): Writable {
  return new Writable({
    // Let writev gather ~1 MiB per write call instead of one syscall per 64 KiB chunk.
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, cb) {
      writeAll(handle, chunk).then(() => cb(), cb);
    },
    writev(chunks, cb) {
      writeAll(handle, Buffer.concat(chunks.map((c) => c.chunk as Buffer))).then(() => cb(), cb);
    },
  });
}

async function writeAll(handle: FileHandle, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
    offset += bytesWritten;
  }
}
