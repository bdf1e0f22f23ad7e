/**
 * The content-addressed blob store: `<root>/blobs/<algorithm>/<hex>`, the
 * same layout as an OCI image layout directory, so a layout dir is a store.
 *
 * Writes stream to a uniquely named temp file in the target directory
 * (created with O_EXCL), hash as they go, fsync, and rename into place, so a
 * blob path only ever holds complete content, even with concurrent writers
 * in several processes. Reads are verified against digest and size.
 */
import { randomBytes } from 'node:crypto';
import { open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HoistError } from '../errors.js';
import { ensureDirectory, fsError } from '../fs-errors.js';
import { fileHandleSink } from './atomic-file.js';
import { processIsRunning } from './process-alive.js';
import { DigestingStream, digestAlgorithm, digestHex, verified, verifiesDigest, verifyingStream, type Digest } from './digest.js';

export interface PutExpectation {
  digest?: Digest;
  size?: number;
}

export interface BlobInfo {
  digest: Digest;
  size: number;
}

/**
 * Told how a blob being put is written, so that a reader can follow it (an
 * upload that starts before the blob is complete): the temp file as soon as
 * it exists (a reader opens it there and then: the file is renamed, or
 * removed on failure, later), the bytes in it as they grow, and the end.
 */
export interface BlobWriteWatch {
  opened(tempFile: string): void;
  grew(bytesWritten: number): void;
  /** Every byte is in the file (true; the blob may still fail its checks), or the write failed (false). */
  ended(complete: boolean): void;
}

/** Temp files start with this; anything else in a blob directory is a blob. */
const TEMP_PREFIX = '.tmp-';

/** A dead writer's temp file younger than this is left alone: its pid may belong to another PID namespace. */
const DEAD_WRITER_TEMP_MS = 10 * 60_000;

/** A temp file this old is abandoned whoever wrote it: no blob write takes a day. */
const ABANDONED_TEMP_MS = 24 * 3600_000;

/** The writer's pid in `.tmp-<pid>-<random>`. */
function writerPid(name: string): number | undefined {
  const m = /^\.tmp-(\d+)-/.exec(name);
  return m ? Number(m[1]) : undefined;
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

export interface BlobStoreOptions {
  /** What a user can do about a blob the store should hold but does not: the hint of its BLOB_NOT_FOUND. */
  missingHint?: string;
}

export class BlobStore {
  constructor(
    readonly root: string,
    private readonly options: BlobStoreOptions = {},
  ) {}

  private dir(algorithm: 'sha256' | 'sha512'): string {
    return join(this.root, 'blobs', algorithm);
  }

  /**
   * Make the store ready for writing: create its directory (a path mistake
   * is the user's error, reported before any work) and remove temp files a
   * killed writer left behind (see removeStaleTemp).
   */
  async prepare(what = 'the blob cache directory'): Promise<void> {
    await ensureDirectory(this.root, what);
    await this.removeStaleTemp(DEAD_WRITER_TEMP_MS).catch((err: unknown) => {
      // e.g. ENOTDIR: blobs/sha256 is a file.
      throw fsError(err, (err as NodeJS.ErrnoException).path ?? this.root, `use ${what} at`);
    });
  }

  path(d: Digest): string {
    return join(this.dir(digestAlgorithm(d)), digestHex(d));
  }

  async has(d: Digest): Promise<boolean> {
    try {
      return (await stat(this.path(d))).isFile();
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** Size on disk; throws HoistError BLOB_NOT_FOUND. */
  async size(d: Digest): Promise<number> {
    try {
      return (await stat(this.path(d))).size;
    } catch (err) {
      if (isNotFound(err)) throw this.notFound(d, err);
      throw err;
    }
  }

  /**
   * A stream of the blob that errors (HoistError DIGEST_MISMATCH) if the
   * content does not hash to `d`, or is not `expectedSize` bytes when given.
   * A size mismatch with what is on disk fails before any byte is read.
   */
  async open(d: Digest, expectedSize?: number): Promise<Readable> {
    const file = this.path(d);
    const handle = await this.openHandle(d);
    try {
      const { size } = await handle.stat();
      if (expectedSize !== undefined && size !== expectedSize) {
        throw new HoistError('DIGEST_MISMATCH', `blob ${d} in ${this.root} has ${size} bytes, expected ${expectedSize}`, {
          hint: `delete ${file} and fetch it again`,
        });
      }
      // Last use, for `hoist cache prune` (mtime: atime is not kept up to date under relatime).
      const now = new Date();
      await handle.utimes(now, now).catch(() => undefined);
      // The stream owns the handle from here and closes it at end or on error.
      // 1 MiB reads: with the default 64 KiB, the per-read promise overhead cost ~0.3 CPU-s per 512 MiB pushed.
      const source = handle.createReadStream({ start: 0, highWaterMark: 1 << 20 });
      return verified(source, { digest: d, size }, `blob ${d} in ${this.root}`);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /**
   * The blob's content, not hashed again: only for a blob this process put
   * into the store (and hashed as it went in) during the same build, where
   * a second hash would only repeat the first.
   */
  async openWritten(d: Digest): Promise<Readable> {
    return (await this.openHandle(d)).createReadStream({ start: 0, highWaterMark: 1 << 20 });
  }

  private async openHandle(d: Digest): Promise<FileHandle> {
    return open(this.path(d), 'r').catch((err: unknown) => {
      throw isNotFound(err) ? this.notFound(d, err) : err;
    });
  }

  /**
   * Stream `src` into the store and return its digest and size. With
   * `expect`, content that does not match is discarded and HoistError
   * DIGEST_MISMATCH is thrown; nothing partial is ever visible at a blob path.
   */
  async put(src: Readable, expect: PutExpectation = {}, options: { signal?: AbortSignal | undefined; watch?: BlobWriteWatch | undefined } = {}): Promise<BlobInfo> {
    options.signal?.throwIfAborted();
    const algorithm = expect.digest === undefined ? 'sha256' : digestAlgorithm(expect.digest);
    const dir = this.dir(algorithm);
    await ensureDirectory(dir, 'the blob cache directory');
    const temp = join(dir, `${TEMP_PREFIX}${process.pid}-${randomBytes(8).toString('hex')}`);
    const handle = await open(temp, 'wx', 0o644).catch((err: unknown) => {
      throw fsError(err, dir, 'write a blob to the cache directory');
    });
    let closed = false;
    const watch = options.watch;
    let ended = false;
    try {
      watch?.opened(temp);
      // One pass: without an expected digest, hash (DigestingStream also counts); with one,
      // verify while counting, or only count if the source already enforces that digest.
      const info =
        expect.digest === undefined
          ? await this.writeHashed(src, algorithm, handle, options.signal, watch)
          : await this.writeVerified(src, expect.digest, expect.size, handle, options.signal, watch);
      ended = true;
      watch?.ended(true);
      if (expect.size !== undefined && info.size !== expect.size) {
        throw new HoistError('DIGEST_MISMATCH', `blob ${info.digest} for ${this.root} has ${info.size} bytes, expected ${expect.size}`, {
          hint: 'the content is corrupt or was truncated; fetch or rebuild it again',
        });
      }
      await handle.sync().catch((err: unknown) => {
        throw fsError(err, temp, 'write a blob to the cache');
      });
      await handle.close();
      closed = true;
      await this.settle(temp, info).catch((err: unknown) => {
        throw fsError(err, this.path(info.digest), 'store a blob in the cache');
      });
      return info;
    } catch (err) {
      if (!ended) watch?.ended(false);
      if (!closed) await handle.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
      throw err;
    }
  }

  private async writeHashed(src: Readable, algorithm: 'sha256' | 'sha512', handle: FileHandle, signal: AbortSignal | undefined, watch: BlobWriteWatch | undefined): Promise<BlobInfo> {
    const digester = new DigestingStream(algorithm);
    await pipeline(src, digester, this.sink(handle, watch), abortable(signal));
    return { digest: digester.digest(), size: digester.size };
  }

  private async writeVerified(src: Readable, digest: Digest, size: number | undefined, handle: FileHandle, signal: AbortSignal | undefined, watch: BlobWriteWatch | undefined): Promise<BlobInfo> {
    const sink = this.sink(handle, watch);
    // A source that already enforces this digest (a verified download) is not hashed twice.
    if (verifiesDigest(src, digest, size)) await pipeline(src, sink, abortable(signal));
    else await pipeline(src, verifyingStream({ digest, size }, `blob ${digest} for ${this.root}`), sink, abortable(signal));
    return { digest, size: sink.bytesWritten };
  }

  /** A sink whose write failures (ENOSPC, EIO) are the user's errors about the cache. */
  private sink(handle: FileHandle, watch?: BlobWriteWatch): ReturnType<typeof fileHandleSink> {
    return fileHandleSink(handle, { file: this.root, action: 'write a blob to the cache directory', ...(watch === undefined ? {} : { onWritten: (n) => watch.grew(n) }) });
  }

  /** Move a complete temp file into place, keeping an existing blob of the right size. */
  private async settle(temp: string, info: BlobInfo): Promise<void> {
    const target = this.path(info.digest);
    const existing = await stat(target).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    if (existing?.isFile() && existing.size === info.size) {
      await unlink(temp);
      return;
    }
    // Atomic: readers see the old file or the new one, never a mix.
    await rename(temp, target);
    await syncDir(join(target, '..'));
  }

  /** Store a small in-memory blob (a manifest or config). */
  async putBytes(data: Buffer, expect: PutExpectation = {}): Promise<BlobInfo> {
    return this.put(Readable.from([data]), expect);
  }

  /** Read a small blob fully, verified. Refuses blobs over `maxBytes`. */
  async readBytes(d: Digest, maxBytes = 64 * 1024 * 1024): Promise<Buffer> {
    const size = await this.size(d);
    if (size > maxBytes) throw new HoistError('BLOB_TOO_LARGE', `blob ${d} has ${size} bytes, more than ${maxBytes}`);
    const chunks: Buffer[] = [];
    for await (const chunk of await this.open(d, size)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async delete(d: Digest): Promise<void> {
    await unlink(this.path(d)).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  }

  /**
   * Remove temp files left by writers that died: those of a process that no
   * longer runs (the name holds the writer's pid) and older than
   * `olderThanMs`, and any older than `abandonedMs` whoever wrote them. A
   * live writer's temp file is never removed: its process runs, and it
   * writes to it (its mtime is young). The age guard also covers writers in
   * another PID namespace sharing the cache. Returns how many were removed.
   */
  async removeStaleTemp(
    olderThanMs: number,
    now: number = Date.now(),
    options: { abandonedMs?: number; isRunning?: (pid: number) => boolean } = {},
  ): Promise<number> {
    const abandonedMs = options.abandonedMs ?? ABANDONED_TEMP_MS;
    const isRunning = options.isRunning ?? processIsRunning;
    let removed = 0;
    for (const algorithm of ['sha256', 'sha512'] as const) {
      const dir = this.dir(algorithm);
      const names = await readdir(dir).catch((err: unknown) => {
        if (isNotFound(err)) return [] as string[];
        throw err;
      });
      for (const name of names.filter((n) => n.startsWith(TEMP_PREFIX))) {
        const file = join(dir, name);
        const st = await stat(file).catch(() => undefined);
        if (st === undefined) continue;
        const age = now - st.mtimeMs;
        const pid = writerPid(name);
        const writerGone = pid === undefined || (pid !== process.pid && !isRunning(pid));
        if (age > abandonedMs || (writerGone && age > olderThanMs)) {
          await unlink(file).catch(() => undefined);
          removed++;
        }
      }
    }
    return removed;
  }

  /** The error for a blob that is not (or no longer) in the store. */
  notFound(d: Digest, cause?: unknown): HoistError {
    return new HoistError('BLOB_NOT_FOUND', `blob ${d} is not in ${this.root}`, {
      ...(cause !== undefined ? { cause } : {}),
      ...(this.options.missingHint !== undefined ? { hint: this.options.missingHint } : {}),
    });
  }
}

function abortable(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal === undefined ? {} : { signal };
}

/** Make a rename durable. Some filesystems refuse fsync on directories; that is not fatal. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r').catch(() => undefined);
  if (handle === undefined) return;
  await handle.sync().catch(() => undefined);
  await handle.close().catch(() => undefined);
}

/**
 * Where the store lives: `--cache-dir`, else `HOIST_CACHE_DIR`, else
 * `~/.cache/hoist`. Pure: the caller passes the environment and home.
 */
export function resolveStoreRoot(options: {
  cacheDir?: string | undefined;
  env: Readonly<Record<string, string | undefined>>;
  homedir: string;
}): string {
  const { cacheDir, env, homedir } = options;
  if (cacheDir !== undefined && cacheDir !== '') return cacheDir;
  const fromEnv = env.HOIST_CACHE_DIR;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return join(homedir, '.cache', 'hoist');
}
