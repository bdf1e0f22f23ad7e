/**
 * Reading a file's content for a layer, safely: opened with O_NOFOLLOW (a
 * symlink swapped in since the walk is not followed), and checked to be the
 * inode the walk saw. Sizes are not trusted either: we ask for one byte more
 * than the walk saw, so a file that grew yields it and the tar writer fails
 * with FILE_CHANGED instead of writing a torn layer.
 *
 * Uses the callback fs API: for the many small files of a rootfs its
 * per-call cost is well below fs/promises' FileHandle.
 */
import { close, closeSync, constants, fstat, fstatSync, open, openSync, read, readSync, type BigIntStats } from 'node:fs';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { HoistError } from '../src/errors.js';

export interface FileIdentity {
  dev: bigint;
  ino: bigint;
}

/** Read size for large files: few syscalls, bounded memory. */
const READ_CHUNK = 256 * 1024;

const openAsync = promisify(open);
const closeAsync = promisify(close);
const readAsync = (fd: number, buffer: Buffer, offset: number, length: number): Promise<number> =>
  new Promise((resolve, reject) => read(fd, buffer, offset, length, null, (err, n) => (err ? reject(err) : resolve(n))));
const fstatBig = (fd: number): Promise<FileIdentity> =>
  new Promise((resolve, reject) => fstat(fd, { bigint: true }, (err, st) => (err ? reject(err) : resolve(st))));

// O_NONBLOCK: should a FIFO have been swapped in, open returns at once
// (and the identity check fails) instead of waiting for a writer forever;
// O_NOCTTY: a terminal swapped in never becomes hoist's.
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;

async function openChecked(abs: string, rel: string, id: FileIdentity): Promise<number> {
  const fd = await openAsync(abs, OPEN_FLAGS);
  try {
    const st = await fstatBig(fd);
    if (st.dev !== id.dev || st.ino !== id.ino) {
      throw new HoistError('FILE_CHANGED', `${rel} was replaced while the layer was being written`);
    }
    return fd;
  } catch (err) {
    await closeAsync(fd);
    throw err;
  }
}

/**
 * The whole content of a small file, now: `size` bytes, or more if it grew.
 * Synchronous: for a file of a few KiB from the page cache, four round
 * trips through libuv's thread pool cost far more than the system calls.
 */
export function readSmallFileSync(abs: string, rel: string, size: number, id: FileIdentity): Buffer {
  const fd = openSync(abs, OPEN_FLAGS);
  try {
    const st = fstatSync(fd, { bigint: true });
    if (st.dev !== id.dev || st.ino !== id.ino) {
      throw new HoistError('FILE_CHANGED', `${rel} was replaced while the layer was being written`);
    }
    return readOpenedSync(fd, size);
  } finally {
    closeSync(fd);
  }
}

/** A regular file's stat and, when it has 1 to `readMax` bytes, its content. */
export interface OpenedFile {
  stat: BigIntStats;
  content?: Buffer;
}

/**
 * Stats a regular file through one open (O_NOFOLLOW) and, when it is small,
 * reads it before closing: the metadata and the bytes are the same inode's,
 * with two system calls fewer per file than an lstat before the open and a
 * check after it. undefined when `abs` cannot be opened (a symlink, gone,
 * unreadable) or is no longer a regular file: the caller lstat's it and
 * goes the usual way, which reports what is wrong.
 */
export function openRegularFileSync(abs: string, readMax: number): OpenedFile | undefined {
  let fd: number;
  try {
    fd = openSync(abs, OPEN_FLAGS);
  } catch {
    return undefined;
  }
  try {
    const stat = fstatSync(fd, { bigint: true });
    if (!stat.isFile()) return undefined;
    const size = Number(stat.size);
    if (size === 0 || size > readMax) return { stat };
    return { stat, content: readOpenedSync(fd, size) };
  } finally {
    closeSync(fd);
  }
}

/**
 * Up to `size` + 1 bytes of an open file: one byte past the announced end
 * shows that the file grew. Reading stops once `size` bytes are in, without
 * a last read just to see 0: on local filesystems a read returns less than
 * asked only at the end, so a file that grew shows it in the same read; a
 * file that grows after it is read could not be caught anyway.
 */
function readOpenedSync(fd: number, size: number): Buffer {
  const buf = Buffer.allocUnsafe(size + 1);
  let got = 0;
  for (;;) {
    const n = readSync(fd, buf, got, buf.length - got, null);
    if (n === 0) break;
    got += n;
    if (got >= size) break;
  }
  return buf.subarray(0, got);
}

/** Up to this size a file is read in one go, synchronously, when its content is first pulled. */
const SMALL_FILE = 64 * 1024;

/**
 * The content of a file as a stream, read in 256 KiB chunks as the consumer
 * pulls; a small file in one synchronous read (readSmallFileSync says why).
 */
export function streamFile(abs: string, rel: string, size: number, id: FileIdentity): Readable {
  if (size <= SMALL_FILE) return Readable.from(small(abs, rel, size, id), { highWaterMark: 2 });
  return Readable.from(chunks(abs, rel, size, id), { highWaterMark: 2 });
}

/** A generator, so that the file is opened when the content is first pulled, not when the stream is made. */
function* small(abs: string, rel: string, size: number, id: FileIdentity): Generator<Buffer, void, undefined> {
  const content = readSmallFileSync(abs, rel, size, id);
  if (content.length > 0) yield content;
}

async function* chunks(abs: string, rel: string, size: number, id: FileIdentity): AsyncGenerator<Buffer, void, undefined> {
  const fd = await openChecked(abs, rel, id);
  try {
    let left = size;
    for (;;) {
      // Sized to what is left, then one byte past the end to see growth.
      const want = Math.max(1, Math.min(left, READ_CHUNK));
      const buf = Buffer.allocUnsafe(want);
      const n = await readAsync(fd, buf, 0, want);
      if (n === 0) return;
      left -= n;
      yield n === want ? buf : buf.subarray(0, n);
    }
  } finally {
    await closeAsync(fd);
  }
}
