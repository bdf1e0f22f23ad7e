/**
 * A lock file beside a file that several processes update by
 * read-modify-write (an OCI layout's index.json): created with O_EXCL and
 * holding the owner's pid. A lock whose owner no longer runs is taken over;
 * one held by a live process is waited for, up to a bound, then reported.
 */
import { open, readFile, stat, unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { HoistError } from '../errors.js';
import { errnoOf, fsError } from '../fs-errors.js';
import { processIsRunning } from './process-alive.js';

export interface FileLockOptions {
  /** How long to wait for a live owner. Default 60 s: an index update takes milliseconds. */
  waitMs?: number;
  signal?: AbortSignal | undefined;
}

const DEFAULT_WAIT_MS = 60_000;
/** A lock file without a pid (its owner died between creating and writing it) counts as stale after this. */
const UNWRITTEN_STALE_MS = 10_000;

/** Run `fn` holding `lockFile`; the lock is removed afterwards, whatever happens. */
export async function withFileLock<T>(lockFile: string, what: string, fn: () => Promise<T>, options: FileLockOptions = {}): Promise<T> {
  await acquire(lockFile, what, options);
  try {
    return await fn();
  } finally {
    await unlink(lockFile).catch(() => undefined);
  }
}

async function acquire(lockFile: string, what: string, options: FileLockOptions): Promise<void> {
  const deadline = Date.now() + (options.waitMs ?? DEFAULT_WAIT_MS);
  for (let attempt = 0; ; attempt++) {
    options.signal?.throwIfAborted();
    if (await tryCreate(lockFile, what)) return;
    const owner = await lockOwner(lockFile);
    if (owner === 'gone') continue;
    if (owner.stale) {
      await removeIfUnchanged(lockFile, owner.ino);
      continue;
    }
    if (Date.now() >= deadline) {
      const held = owner.pid === undefined ? '' : ` by process ${owner.pid}`;
      throw new HoistError('LOCKED', `cannot update ${what}: its lock ${lockFile} is held${held}`, {
        hint: `wait for the other hoist process to finish; if none is running, remove ${lockFile}`,
      });
    }
    // 5 ms, doubling up to 200 ms, jittered so that waiting writers do not retry in step.
    const delay = Math.min(200, 5 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random());
    await sleep(delay, undefined, options.signal ? { signal: options.signal } : {});
  }
}

async function tryCreate(lockFile: string, what: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(lockFile, 'wx', 0o644);
  } catch (err) {
    if (errnoOf(err) === 'EEXIST') return false;
    throw fsError(err, lockFile, `lock ${what} with`);
  }
  try {
    await handle.writeFile(`${process.pid}\n`);
  } finally {
    await handle.close();
  }
  return true;
}

type Owner = 'gone' | { pid: number | undefined; stale: boolean; ino: number };

async function lockOwner(lockFile: string): Promise<Owner> {
  const [st, text] = await Promise.all([stat(lockFile).catch(() => undefined), readFile(lockFile, 'utf8').catch(() => undefined)]);
  if (st === undefined || text === undefined) return 'gone';
  const pid = /^\d+$/.test(text.trim()) ? Number(text.trim()) : undefined;
  if (pid === undefined) return { pid, stale: Date.now() - st.mtimeMs > UNWRITTEN_STALE_MS, ino: st.ino };
  return { pid, stale: pid !== process.pid && !processIsRunning(pid), ino: st.ino };
}

/**
 * Remove a stale lock unless another process has replaced it meanwhile (a
 * new inode). The check and the unlink are not one atomic step, but the
 * window is microseconds and needs two writers finding the same stale lock.
 */
async function removeIfUnchanged(lockFile: string, ino: number): Promise<void> {
  const now = await stat(lockFile).catch(() => undefined);
  if (now?.ino === ino) await unlink(lockFile).catch(() => undefined);
}
