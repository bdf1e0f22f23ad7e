/**
 * A lock file held by a process id: beside a file that several processes
 * update by read-modify-write (an OCI layout's index.json), or guarding a
 * directory used by one build at a time (a locked cache mount). A lock whose
 * owner no longer runs is taken over; one held by a live process is waited
 * for, up to a bound (none for `waitMs: Infinity`), then reported.
 *
 * The lock appears with its pid already in it (written to a file of its own,
 * then hard-linked into place, which fails when a lock exists), so a crash
 * never leaves a lock that names no owner. Where the file system has no hard
 * links, it is created with O_EXCL and then written; such a lock still
 * without a pid after UNWRITTEN_STALE_MS is stale.
 *
 * The owner is written as `<pid>@<pid namespace>` (process-alive.ts): a
 * cache directory is often shared between containers, and a pid of another
 * namespace says nothing here. The holder renews the lock's mtime every
 * HEARTBEAT_MS, and a lock not renewed for ABANDONED_MS is stale whoever it
 * names: pids and namespace numbers are used again (the next CI container
 * may get both), so a dead holder can look alive, even look like this very
 * process. A bare pid (an older hoist, which does not renew) is judged by
 * the pid alone, as that hoist judges it; and since it counts a lock it
 * cannot read a pid from as stale after UNWRITTEN_STALE_MS, the renewal
 * comes well within that.
 *
 * Taking over a stale lock is serialized by a second lock beside it
 * (`<lock>.takeover`, held for microseconds): its holder checks again that
 * the lock is the stale one and removes it. Without that, two processes that
 * both found the same stale lock could each remove it, the second one
 * removing the lock the first had just created, and both would hold it.
 */
import { randomBytes } from 'node:crypto';
import { linkSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { open, readFile, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { HoistError } from '../errors.js';
import { errnoOf, fsError } from '../fs-errors.js';
import { ownerState, ownerTag } from './process-alive.js';

export interface FileLockOptions {
  /** How long to wait for a live owner. Default 60 s: an index update takes milliseconds. `Infinity`: as long as it takes. */
  waitMs?: number;
  signal?: AbortSignal | undefined;
  /** How often a held lock's mtime is renewed. Default HEARTBEAT_MS. */
  heartbeatMs?: number;
}

/** A lock this process holds. */
export interface HeldFileLock {
  /** Remove the lock (only if it is still this one). */
  release(): Promise<void>;
}

const DEFAULT_WAIT_MS = 60_000;
/** A lock file without a pid (its owner died between creating and writing it) counts as stale after this. */
const UNWRITTEN_STALE_MS = 10_000;
/** A held lock's mtime is renewed this often (under UNWRITTEN_STALE_MS, which an older hoist applies to it). */
export const HEARTBEAT_MS = 3_000;
/** A lock (with an owner tag) not renewed for this long is stale: its holder is gone. */
export const ABANDONED_MS = 60_000;

/** Run `fn` holding `lockFile`; the lock is removed afterwards, whatever happens. */
export async function withFileLock<T>(lockFile: string, what: string, fn: () => Promise<T>, options: FileLockOptions = {}): Promise<T> {
  const lock = await acquireFileLock(lockFile, what, options);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

/** Take `lockFile`, waiting for a live owner as `options` allow. */
export async function acquireFileLock(lockFile: string, what: string, options: FileLockOptions = {}): Promise<HeldFileLock> {
  const deadline = Date.now() + (options.waitMs ?? DEFAULT_WAIT_MS);
  for (let attempt = 0; ; attempt++) {
    options.signal?.throwIfAborted();
    const taken = await attemptLock(lockFile, what, options.heartbeatMs);
    if (taken.held !== undefined) return taken.held;
    if (Date.now() >= deadline) {
      const held = taken.pid === undefined ? '' : ` by process ${taken.pid}`;
      throw new HoistError('LOCKED', `cannot update ${what}: its lock ${lockFile} is held${held}`, {
        hint: `wait for the other hoist process to finish; if none is running, remove ${lockFile}`,
      });
    }
    // 5 ms, doubling up to 200 ms, jittered so that waiting writers do not retry in step.
    const delay = Math.min(200, 5 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random());
    // Aborted: the abort's reason (a stage canceled because another failed), not Node's AbortError.
    await sleep(delay, undefined, options.signal ? { signal: options.signal } : {}).catch((err: unknown) => {
      throw options.signal?.aborted === true ? options.signal.reason : err;
    });
  }
}

/** Take `lockFile` if no live process holds it (a stale lock is taken over); undefined when one does. */
export async function tryFileLock(lockFile: string, what: string): Promise<HeldFileLock | undefined> {
  return (await attemptLock(lockFile, what)).held;
}

/** Whether a live process holds `lockFile` (a stale lock counts as free). */
export async function fileLockHeld(lockFile: string): Promise<boolean> {
  const owner = await lockOwner(lockFile);
  return owner !== 'gone' && !owner.stale;
}

/** One try: the lock, or the pid of the live process that holds it. Stale locks are taken over on the way. */
async function attemptLock(lockFile: string, what: string, heartbeatMs = HEARTBEAT_MS): Promise<{ held?: HeldFileLock; pid?: number | undefined }> {
  for (;;) {
    const ino = await tryCreate(lockFile, what);
    if (ino !== undefined) return { held: heldLock(lockFile, ino, heartbeatMs) };
    const owner = await lockOwner(lockFile);
    if (owner === 'gone') continue;
    if (!owner.stale) return { pid: owner.pid };
    await takeOver(lockFile, owner.ino, what);
  }
}

/** A lock just taken, its mtime renewed every `heartbeatMs` until it is released. */
function heldLock(lockFile: string, ino: number, heartbeatMs: number): HeldFileLock {
  const stop = renewMtime(lockFile, heartbeatMs, ino);
  return {
    release: () => {
      stop();
      return removeIfUnchanged(lockFile, ino);
    },
  };
}

/**
 * Renew `file`'s mtime every `everyMs` (only while it is still inode `ino`,
 * when given) until the returned function is called: how a holder of a lock
 * or of a cache use shows it still holds it. The timer keeps no process alive.
 */
export function renewMtime(file: string, everyMs = HEARTBEAT_MS, ino?: number): () => void {
  const beat = setInterval(() => {
    try {
      if (ino !== undefined && statSync(file).ino !== ino) return;
      const now = new Date();
      utimesSync(file, now, now);
    } catch {
      // Gone: whoever removes it next finds nothing.
    }
  }, everyMs);
  beat.unref();
  return () => clearInterval(beat);
}

/**
 * Whether the owner `tag` (`<pid>@<pid namespace>`, or a bare pid) still
 * holds what it wrote, `ageMs` after the file's mtime was last renewed: a
 * tag not renewed for ABANDONED_MS is gone whatever process it names, and
 * so is one of this namespace whose process no longer runs; a bare pid
 * (an older hoist, which does not renew) is judged by the pid alone.
 */
export function ownerHolds(tag: string, ageMs: number): boolean {
  const renewed = /^\d+$/.test(tag) || ageMs <= ABANDONED_MS;
  return renewed && ownerState(tag) !== 'gone';
}

/** Create `lockFile` holding this process's pid; its inode, or undefined when it exists. */
async function tryCreate(lockFile: string, what: string): Promise<number | undefined> {
  // `.tmp-` and `.lock`: names hoist cache prune leaves alone.
  const own = path.join(path.dirname(lockFile), `.tmp-${path.basename(lockFile)}.${process.pid}-${randomBytes(6).toString('hex')}`);
  // Synchronous (each call takes microseconds): through the thread pool, taking and releasing a
  // lock was eight round trips, one after another, at the end of every build that writes a layout.
  try {
    writeFileSync(own, `${ownerTag()}\n`, { mode: 0o644, flag: 'wx' });
  } catch (err) {
    throw fsError(err, own, `lock ${what} with`);
  }
  try {
    linkSync(own, lockFile);
    return statSync(own).ino;
  } catch (err) {
    if (errnoOf(err) === 'EEXIST') return undefined;
    if (errnoOf(err) !== 'EPERM' && errnoOf(err) !== 'ENOTSUP' && errnoOf(err) !== 'EOPNOTSUPP') throw fsError(err, lockFile, `lock ${what} with`);
    return await createExclusive(lockFile, what);
  } finally {
    try {
      unlinkSync(own);
    } catch {
      // Gone already.
    }
  }
}

/** Where there are no hard links: O_EXCL, then the pid (briefly a lock without one). */
async function createExclusive(lockFile: string, what: string): Promise<number | undefined> {
  let handle;
  try {
    handle = await open(lockFile, 'wx', 0o644);
  } catch (err) {
    if (errnoOf(err) === 'EEXIST') return undefined;
    throw fsError(err, lockFile, `lock ${what} with`);
  }
  try {
    await handle.writeFile(`${ownerTag()}\n`);
    return (await handle.stat()).ino;
  } finally {
    await handle.close();
  }
}

type Owner = 'gone' | { pid: number | undefined; stale: boolean; ino: number };

async function lockOwner(lockFile: string): Promise<Owner> {
  const [st, text] = await Promise.all([stat(lockFile).catch(() => undefined), readFile(lockFile, 'utf8').catch(() => undefined)]);
  if (st === undefined || text === undefined) return 'gone';
  const tag = text.trim();
  const age = Date.now() - st.mtimeMs;
  if (tag === '') return { pid: undefined, stale: age > UNWRITTEN_STALE_MS, ino: st.ino };
  const pid = /^\d+/.exec(tag)?.[0];
  return { pid: pid === undefined ? undefined : Number(pid), stale: !ownerHolds(tag, age), ino: st.ino };
}

/**
 * Remove the stale lock `lockFile` (inode `ino`) holding its takeover lock,
 * so that no other process removes a lock in the meantime: if it is still
 * that inode, and still stale, no one can have replaced it. When another
 * process holds the takeover lock, returns without waiting: the caller looks
 * at the lock again.
 */
async function takeOver(lockFile: string, ino: number, what: string): Promise<void> {
  const guard = `${lockFile}.takeover`;
  const guardIno = await tryCreate(guard, what);
  if (guardIno === undefined) {
    const owner = await lockOwner(guard);
    // Its holder died within its few microseconds: the guard alone is removed, checked by inode.
    if (owner !== 'gone' && owner.stale) await removeIfUnchanged(guard, owner.ino);
    else await sleep(1);
    return;
  }
  try {
    const now = await lockOwner(lockFile);
    if (now !== 'gone' && now.stale && now.ino === ino) await unlink(lockFile).catch(() => undefined);
  } finally {
    await removeIfUnchanged(guard, guardIno);
  }
}

/** Remove `file` unless it is no longer the inode `ino` (another process's lock now). */
async function removeIfUnchanged(file: string, ino: number): Promise<void> {
  try {
    if (statSync(file).ino === ino) unlinkSync(file);
  } catch {
    // Gone already.
  }
}
