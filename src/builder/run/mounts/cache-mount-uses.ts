/**
 * Where the cache mounts under `<cache-dir>/mounts/` are, who is using each,
 * and how `hoist cache prune` removes one without pulling it from under a
 * build.
 *
 *   mounts/<name>/                 the cache of an id (cacheDirName)
 *   mounts/.locks/<name>.lock      held by a `locked` or `private` step (src/oci/file-lock.ts)
 *   mounts/.locks/<name>.users/    a `<pid>-<random>.use` file per step using the cache,
 *                                  any sharing (holding `<owner>`), and `gate.lock`
 *   mounts/.new-<owner>-*          a cache being made (renamed into place when whole)
 *   mounts/.prune-<owner>-*        a cache being removed by prune
 *
 * `<owner>` is `<pid>@<pid namespace>` (process-alive.ts). A use file is
 * judged as a lock is (file-lock.ts): its step renews its mtime, and one
 * not renewed for ABANDONED_MS is gone whatever pid it names, as is one
 * whose owner is in this namespace and no longer runs. A use file without
 * an owner in it (an older hoist's) is judged by the pid in its name.
 *
 * A step takes the gate, makes the cache if it is missing, leaves its use
 * file, and lets the gate go; prune takes the gate, finds no use file of a
 * live process, renames the cache aside, and lets the gate go. So a step
 * either finds the cache whole or makes a new one, and prune never removes
 * one in use. The gate is held for milliseconds (longer only while a new
 * cache is seeded). Names never start with a dot nor hold a slash, so no
 * name here is another id's.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fsError } from '../../../fs-errors.js';
import { acquireFileLock, fileLockHeld, ownerHolds, renewMtime, tryFileLock } from '../../../oci/file-lock.js';
import { ownerState, ownerTag } from '../../../oci/process-alive.js';

export const CACHE_LOCKS_DIR = '.locks';
/** A `.new-*` or `.prune-*` directory whose owner may still run is left alone this long: no cache takes a day to seed. */
export const STALE_TEMP_MS = 24 * 3_600_000;

/** The directory name of an id: readable, and never a path of its own (`/root/.cache` has slashes) nor hidden. */
export function cacheDirName(id: string): string {
  return encodeURIComponent(id).replace(/^\./, '%2E');
}

/** The lock file of the cache `id` under `root`. */
export function cacheLockFile(root: string, id: string): string {
  return cacheLockFileOf(path.join(root, cacheDirName(id)));
}

/** The lock file of the cache directory `dir`. */
export function cacheLockFileOf(dir: string): string {
  return path.join(path.dirname(dir), CACHE_LOCKS_DIR, `${path.basename(dir)}.lock`);
}

function usersDirOf(dir: string): string {
  return path.join(path.dirname(dir), CACHE_LOCKS_DIR, `${path.basename(dir)}.users`);
}

/** A name for a temporary directory beside the caches, owned by this process. */
export function cacheTempName(kind: 'new' | 'prune'): string {
  return `.${kind}-${ownerTag()}-${randomBytes(6).toString('hex')}`;
}

/**
 * Record a use of the cache directory `dir`, made by `make` first when it is
 * missing, holding the gate. The returned function ends the use.
 */
export async function useCacheDir(dir: string, make: () => Promise<void>, signal?: AbortSignal): Promise<() => Promise<void>> {
  const users = usersDirOf(dir);
  await mkdir(users, { recursive: true }).catch((err: unknown) => {
    throw fsError(err, users, 'create the cache mount locks directory');
  });
  const gate = await acquireFileLock(path.join(users, 'gate.lock'), `the cache mount ${path.basename(dir)}`, { waitMs: Infinity, signal });
  try {
    await make();
    // The pid alone in the name, as older hoists read it; the owner inside.
    const use = path.join(users, `${process.pid}-${randomBytes(6).toString('hex')}.use`);
    await writeFile(use, ownerTag(), { flag: 'wx' }).catch((err: unknown) => {
      throw fsError(err, use, 'record the use of the cache mount in');
    });
    const stop = renewMtime(use);
    return () => {
      stop();
      return rm(use, { force: true });
    };
  } finally {
    await gate.release();
  }
}

/** Use files of live processes under `users`; those of dead ones are removed. */
async function liveUses(users: string, now = Date.now()): Promise<number> {
  let live = 0;
  for (const name of await readdir(users).catch(() => [] as string[])) {
    const pid = /^(\d+)-[0-9a-f]+\.use$/.exec(name)?.[1];
    if (pid === undefined) continue;
    const file = path.join(users, name);
    const [st, owner] = await Promise.all([lstat(file).catch(() => undefined), readFile(file, 'utf8').catch(() => undefined)]);
    if (st === undefined || owner === undefined) continue;
    // An older hoist's use names no owner inside: its pid is the owner.
    if (ownerHolds(owner === '' ? pid : owner, now - st.mtimeMs)) live++;
    else await rm(file, { force: true });
  }
  return live;
}

/** Remove the cache directory `dir` unless a build uses it (or is about to): false when it was left. */
export async function removeCacheDir(dir: string): Promise<boolean> {
  if (await fileLockHeld(cacheLockFileOf(dir))) return false;
  const users = usersDirOf(dir);
  await mkdir(users, { recursive: true });
  const gate = await tryFileLock(path.join(users, 'gate.lock'), `the cache mount ${path.basename(dir)}`);
  if (gate === undefined) return false;
  const aside = path.join(path.dirname(dir), cacheTempName('prune'));
  try {
    if ((await liveUses(users)) > 0) return false;
    await rename(dir, aside);
  } finally {
    await gate.release();
  }
  await rm(aside, { recursive: true, force: true });
  return true;
}

/** What a killed build left under `mountsDir`: `.new-*` and `.prune-*` directories whose owner is gone, or that are older than STALE_TEMP_MS. */
export async function staleCacheTemps(mountsDir: string, now: number): Promise<string[]> {
  const out: string[] = [];
  for (const name of await readdir(mountsDir).catch(() => [] as string[])) {
    const m = /^\.(?:new|prune)-(?:(\d+(?:@(?:\d+|x))?)-)?/.exec(name);
    if (m === null) continue;
    const full = path.join(mountsDir, name);
    const st = await lstat(full).catch(() => undefined);
    if (st === undefined) continue;
    const ownerGone = m[1] !== undefined && ownerState(m[1]) === 'gone';
    if (ownerGone || now - st.mtimeMs > STALE_TEMP_MS) out.push(full);
  }
  return out;
}
