/**
 * Removing a root filesystem (or an overlay work dir) reliably.
 *
 * - `rm -rf --one-file-system` does the work where GNU rm is there: it walks
 *   with openat (a tree deeper than PATH_MAX goes too, in linear time), and
 *   it refuses to descend into another file system, so a bind mount a
 *   runner failed to undo (a cache, the host's /proc) is reported instead
 *   of emptied. Node's `fs.rm` is the fallback (busybox rm has no
 *   `--one-file-system`).
 * - A tree that an image or a RUN step made may hold directories without
 *   write or search permission (mode 0555 or 000; overlay leaves `W/work`
 *   at 000 after unmount), which cannot be emptied as an ordinary user. On
 *   such a failure every directory of the tree is given u+rwx (lstat only:
 *   symlinks are never followed, so nothing outside the tree is touched),
 *   and the removal is tried again.
 * - A big tree goes faster with several `rm` at once (started by one
 *   `xargs -P`, else one by one from here), each on some of the subtrees
 *   two levels down (never one on another device: a mount point is left
 *   to the final `rm`, which refuses it as before). Removal waits on
 *   the disk more than on a CPU: on ext4 with online discard (the CI
 *   machine) an unlink of a file with data takes about a millisecond, and
 *   bench/build-vs-buildah's 5,000-file rootfs took 3-6 s with one `rm`
 *   against 1-1.5 s with eight. What they leave (a failure, the emptied
 *   directories) the final `rm -rf` of the whole tree removes or reports.
 */
import { spawn } from 'node:child_process';
import type { Dirent } from 'node:fs';
import { chmod, lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { HoistError } from '../../src/errors.js';
import { errnoOf, fsError } from '../../src/fs-errors.js';

const OWNER_RWX = 0o700;
/** `rm` processes at once (see above: the disk, not the cores, is what they wait for). */
const PARALLEL_RM = 8;
/** Below this many subtrees one `rm` is as fast. */
const PARALLEL_FROM = 64;
/** Paths on one `rm` command line, well below any ARG_MAX. */
const PATHS_PER_RM = 512;
/** GNU rm's flags (see above), before the paths. */
const RM_FLAGS = ['-rf', '--one-file-system', '--'] as const;

/** Remove `dir` and everything below it; nothing happens when it does not exist. */
export async function removeRootfs(dir: string): Promise<void> {
  const first = await removeTree(dir);
  if (first === undefined) return;
  await openUp(dir);
  const second = await removeTree(dir);
  if (second !== undefined) throw second;
}

/** undefined when `dir` is gone, else the error. */
async function removeTree(dir: string): Promise<unknown> {
  await removeSubtreesInParallel(dir);
  const gnu = await gnuRm(dir);
  if (gnu === 'done') return undefined;
  if (gnu !== 'unavailable') {
    if ((await lstat(dir).catch(() => undefined)) === undefined) return undefined;
    return new HoistError('FS_CANNOT_REMOVE', `cannot remove ${dir}: ${gnu}`, {
      hint: `something below ${dir} is mounted or protected; unmount it (see /proc/self/mountinfo) or remove it by hand`,
    });
  }
  try {
    await rm(dir, { recursive: true, force: true });
    return undefined;
  } catch (err) {
    return fsError(err, dir, 'remove the root filesystem');
  }
}

/**
 * Best effort, before the `rm` of the whole tree: the entries two levels
 * below `dir` (one level for what is not a directory), in batches removed by
 * up to PARALLEL_RM `rm` at once. A directory on another device than `dir`
 * (a mount point) is not among them.
 */
async function removeSubtreesInParallel(dir: string): Promise<void> {
  const top = await lstat(dir).catch(() => undefined);
  if (top === undefined || !top.isDirectory()) return;
  const onDevice = async (p: string): Promise<boolean> => (await lstat(p).catch(() => undefined))?.dev === top.dev;
  const subtrees: string[] = [];
  for (const first of await entriesOf(dir)) {
    const p = join(dir, first.name);
    if (!first.isDirectory()) subtrees.push(p);
    else if (await onDevice(p)) {
      for (const second of await entriesOf(p)) {
        const q = join(p, second.name);
        if (!second.isDirectory() || (await onDevice(q))) subtrees.push(q);
      }
    }
  }
  if (subtrees.length < PARALLEL_FROM) return;
  const per = Math.min(PATHS_PER_RM, Math.ceil(subtrees.length / PARALLEL_RM));
  // One process starts the `rm`s (a fork of this big process costs several ms of the main thread each).
  if ((await xargsRm(subtrees, per)) !== 'unavailable') return;
  const batches: string[][] = [];
  for (let i = 0; i < subtrees.length; i += per) batches.push(subtrees.slice(i, i + per));
  const next = (): Promise<void> => {
    const batch = batches.shift();
    return batch === undefined ? Promise.resolve() : gnuRm(...batch).then(next);
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_RM, batches.length) }, next));
}

/** `rm -rf` of `paths`, `per` a command, PARALLEL_RM at once, run by xargs; 'unavailable' without an xargs that can. */
function xargsRm(paths: readonly string[], per: number): Promise<'done' | 'failed' | 'unavailable'> {
  return new Promise((resolve) => {
    const child = spawn('xargs', ['-0', '-r', '-P', String(PARALLEL_RM), '-n', String(per), 'rm', ...RM_FLAGS], { stdio: ['pipe', 'ignore', 'ignore'] });
    child.on('error', () => resolve('unavailable'));
    // 0: all went; 123: some rm failed (the final rm reports what is left); else xargs could not run them.
    child.on('close', (status) => resolve(status === 0 ? 'done' : status === 123 ? 'failed' : 'unavailable'));
    // No pipe when the spawn failed at once (EMFILE): 'error' follows.
    if (child.stdin === null) return;
    child.stdin.on('error', () => undefined);
    child.stdin.end(Buffer.from(paths.map((p) => `${p}\0`).join('')));
  });
}

async function entriesOf(dir: string): Promise<Dirent[]> {
  return readdir(dir, { withFileTypes: true }).catch(() => []);
}

/** 'done', 'unavailable' (no GNU rm), or rm's complaint. */
function gnuRm(...paths: string[]): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn('rm', [...RM_FLAGS, ...paths], { stdio: ['ignore', 'ignore', 'pipe'] });
    const err: Buffer[] = [];
    child.stderr?.on('data', (c: Buffer) => err.push(c));
    child.on('error', () => resolve('unavailable'));
    child.on('close', (status) => {
      const text = Buffer.concat(err).toString('utf8').trim();
      if (status === 0) resolve('done');
      else if (/unrecognized option|invalid option|unknown option/i.test(text)) resolve('unavailable');
      else resolve(text.split('\n').slice(0, 3).join('; ') || `rm exited with ${status}`);
    });
  });
}

/** Give every directory of the tree at `top` owner rwx, top-down, so that it can be read and emptied. */
async function openUp(top: string): Promise<void> {
  const pending = [top];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    const st = await lstat(dir).catch(() => undefined);
    if (st === undefined || !st.isDirectory()) continue;
    if ((st.mode & OWNER_RWX) !== OWNER_RWX) {
      await chmod(dir, (st.mode & 0o7777) | OWNER_RWX).catch((err: unknown) => {
        if (errnoOf(err) !== 'ENOENT') throw fsError(err, dir, 'make removable');
      });
    }
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) pending.push(join(dir, name));
  }
}
