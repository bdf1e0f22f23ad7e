/**
 * RUN --mount=type=cache: a directory under `<cache-dir>/mounts/` per id,
 * kept between builds and never part of a layer. `sharing` as BuildKit:
 * `shared` lets every step use it at once; `locked` makes a step wait for
 * the one using it (a lock file, see cache-mount-uses.ts for the layout);
 * `private` takes it if no one holds it and otherwise gets a new directory
 * of its own, made as a new cache is (seeded by from= / source=, with its
 * owner and mode), and discarded after the step: as BuildKit makes a new
 * mount then, never a copy of a tree another step is writing. Where the
 * runner copies mounts in and out instead of mounting them, `shared` is
 * `locked`.
 */
import { chmod, chown, lstat, mkdir, mkdtemp, rename, rm, utimes } from 'node:fs/promises';
import path from 'node:path';
import { acquireFileLock, tryFileLock, type HeldFileLock } from '../../../oci/file-lock.js';
import { cacheDirName, cacheLockFile, cacheTempName, useCacheDir } from './cache-mount-uses.js';
import { HoistError } from '../../../errors.js';
import { fsError } from '../../../fs-errors.js';
import type { CacheSharing } from './run-mounts.js';

export interface CacheDirRequest {
  /** `<cache-dir>/mounts`. */
  root: string;
  id: string;
  sharing: CacheSharing;
  /** The runner copies the cache into the rootfs and back (src/run/mount-emulation.ts): `shared` is then `locked`. */
  copied?: boolean | undefined;
  uid: number;
  gid: number;
  mode: number;
  /** Fills a new cache directory (from= / source=), before it is first used. */
  seed?: ((dir: string) => Promise<void>) | undefined;
  /** Gives a new cache directory its owner where hoist cannot (unprivileged); default: chown where allowed, else left as hoist's. */
  setOwner?: ((dir: string, uid: number, gid: number) => Promise<void>) | undefined;
  /** Scratch space for a private copy. */
  tmpDir: string;
  signal?: AbortSignal | undefined;
}

export interface CacheDir {
  /** The directory to bind. */
  path: string;
  /** After the step: the lock given back, a private copy removed. */
  release(): Promise<void>;
}

/** The cache directory for `req.id`, created (and seeded) on first use; for `locked` and `private`, the lock taken. */
export async function openCacheDir(req: CacheDirRequest): Promise<CacheDir> {
  const dir = path.join(req.root, cacheDirName(req.id));
  await mkdir(req.root, { recursive: true }).catch((err: unknown) => {
    throw fsError(err, req.root, 'create the cache mounts directory');
  });
  // Recorded as used before anything else, so that hoist cache prune leaves it alone (cache-mount-uses.ts).
  const endUse = await useCacheDir(dir, () => createOnce(dir, req), req.signal);
  try {
    // Its last use, for hoist cache prune: a step that only reads the cache changes no mtime in it.
    const now = new Date();
    await utimes(dir, now, now).catch(() => undefined);
    const cache = await take(dir, req);
    return { path: cache.path, release: () => cache.release().finally(endUse) };
  } catch (err) {
    await endUse();
    throw err;
  }
}

/** The cache directory `dir` as `req.sharing` lets the step have it. */
async function take(dir: string, req: CacheDirRequest): Promise<CacheDir> {
  // Copies cannot be shared: two steps each working on a copy of one cache
  // would each copy theirs back, the last one undoing the other's writes, and
  // one could copy in while another copies back. Taking turns keeps every
  // step's writes, as a shared mount would.
  if (req.sharing === 'shared' && req.copied !== true) return { path: dir, release: () => Promise.resolve() };
  const lockFile = cacheLockFile(req.root, req.id);
  const what = `the cache mount ${JSON.stringify(req.id)}`;
  const held = (lock: HeldFileLock): CacheDir => ({ path: dir, release: () => lock.release() });
  const free = await tryFileLock(lockFile, what);
  if (free !== undefined) return held(free);
  if (req.sharing === 'private') {
    const own = await mkdtemp(path.join(req.tmpDir, 'cache-private-'));
    try {
      await fillNew(own, req);
    } catch (err) {
      await rm(own, { recursive: true, force: true });
      throw err;
    }
    return { path: own, release: () => rm(own, { recursive: true, force: true }) };
  }
  // As BuildKit: a locked cache waits for the step using it, however long that step runs.
  return held(await acquireFileLock(lockFile, what, { waitMs: Infinity, signal: req.signal }));
}

/** Make `dir` with its owner and mode, seeded, in one rename: a concurrent build sees it whole or not at all. */
async function createOnce(dir: string, req: CacheDirRequest): Promise<void> {
  if (await isDir(dir)) return;
  const fresh = path.join(req.root, cacheTempName('new'));
  await mkdir(fresh);
  try {
    await fillNew(fresh, req);
    await rename(fresh, dir).catch((err: NodeJS.ErrnoException) => {
      // Another build made it first: its directory is the cache.
      if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
    });
  } finally {
    await rm(fresh, { recursive: true, force: true });
  }
}

/** A new cache directory's content, mode and owner: `dir` exists and is empty. */
async function fillNew(dir: string, req: CacheDirRequest): Promise<void> {
  if (req.seed !== undefined) {
    await rm(dir, { recursive: true });
    await req.seed(dir);
  }
  await chmod(dir, req.mode);
  // Only root can give it away; unprivileged, it stays hoist's (root in the step's user namespace) unless setOwner can.
  await (req.setOwner ?? chownIfAllowed)(dir, req.uid, req.gid);
}

async function chownIfAllowed(p: string, uid: number, gid: number): Promise<void> {
  await chown(p, uid, gid).catch(() => undefined);
}

async function isDir(p: string): Promise<boolean> {
  const st = await lstat(p).catch(() => undefined);
  if (st !== undefined && !st.isDirectory()) {
    throw new HoistError('RUN_CACHE_MOUNT', `the cache mount directory ${p} is not a directory`, { hint: 'remove it (hoist cache prune) and build again' });
  }
  return st !== undefined;
}
