/**
 * What a stat walk of a rootfs looks at, shared by the capture before a
 * step and the diff after it: which paths are never captured, whose owner
 * is recorded somewhere other than the inode, how sibling names are ordered,
 * and the synchronous directory and stat calls both walks are made of.
 *
 * Why synchronous: for the many small entries of a rootfs, a libuv
 * round trip per lstat costs several times the syscall (measured: 100k
 * entries in about 5 s through fs/promises against 0.7 s with lstatSync on
 * this machine). The walks yield to the event loop every few milliseconds
 * instead, so progress output and other stages keep running.
 */
import { lstatSync, readdirSync, type BigIntStats, type Dirent, type Stats } from 'node:fs';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { HoistError } from '../../src/errors.js';
import { normalizeLayerPath } from '../layer-path.js';

export interface Owner {
  uid: number;
  gid: number;
  /**
   * Permission bits (07777) that apply instead of the inode's: a recorder
   * such as fakeroot keeps the mode a step asked for (chmod 000 on a
   * directory) and leaves one on disk that hoist can still read.
   */
  mode?: number;
}

/** Owners by layer path (`etc/shadow`), for runners whose files cannot carry them on disk. */
export type OwnerOverrides = ReadonlyMap<string, Owner>;

/** Owners by inode (`${dev}:${ino}`, decimal), as a recorder that sees inodes rather than paths reports them. */
export type InodeOwners = ReadonlyMap<string, Owner>;

/** The owner in the image of an inode owned by `uid`:`gid` on disk that no override names (hoist unprivileged: its own ids are root's). */
export type ImageOwner = (uid: number, gid: number) => Owner;

/** Whether a host uid is the image's root under `imageOwner` (a capability bound to it is the image's: xattrs.ts), or undefined without one. */
export function imageRootTest(imageOwner: ImageOwner | undefined): ((hostUid: number) => boolean) | undefined {
  return imageOwner === undefined ? undefined : (uid) => imageOwner(uid, 0).uid === 0;
}

/** st_mode with the permission bits an override names, type bits kept. */
export function effectiveMode(mode: number, owner: Owner | undefined): number {
  return owner?.mode === undefined ? mode : (mode & S_IFMT) | (owner.mode & 0o7777);
}

export interface WalkScope {
  /**
   * Paths (relative to the rootfs, or absolute inside it: `/etc/hosts`) that
   * the runner put there, for example bind-mount targets. They and
   * everything below them are never captured, changed or whited out.
   * `proc`, `dev` and `sys` always are.
   */
  exclude?: readonly string[];
}

/** Never part of a RUN layer: the runner mounts or fills them. */
export const ALWAYS_EXCLUDED: readonly string[] = ['proc', 'dev', 'sys'];

export function excludedSet(exclude: readonly string[] = []): ReadonlySet<string> {
  return new Set([...ALWAYS_EXCLUDED, ...exclude.map((p) => normalizeLayerPath(p.replace(/^\/+/, '')))]);
}

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFSOCK = 0o140000;

/** Layer order of two sibling names: their UTF-8 bytes (layer-path.ts), without encoding them when it is not needed. */
export function compareNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Below the surrogates UTF-16 unit order is code point order, which is UTF-8 byte order.
    if (x >= 0xd800 || y >= 0xd800) return Buffer.compare(Buffer.from(a), Buffer.from(b));
    return x - y;
  }
  return a.length - b.length;
}

export function childPath(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

/** lstat, or undefined when the entry went away between the listing and the stat. */
export function lstatOrGone(abs: string): Stats | undefined {
  return lstatSync(abs, { throwIfNoEntry: false });
}

/** The same with nanosecond times and exact numbers, for what goes into a layer. */
export function lstatExact(abs: string): BigIntStats | undefined {
  return lstatSync(abs, { bigint: true, throwIfNoEntry: false });
}

export function listDir(abs: string, rel: string): Dirent[] {
  try {
    return readdirSync(abs, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return [];
    throw new HoistError('SNAPSHOT_UNREADABLE', `cannot list /${rel} in the rootfs: ${code ?? String(err)}`, {
      hint: 'a RUN step left a directory hoist cannot read (for example chmod 000 while hoist runs without root); restore its permissions in the same step',
      cause: err,
    });
  }
}

/**
 * Hands the event loop a turn every `sliceMs` of synchronous walking. By
 * Date.now(): the global `performance` loads node:perf_hooks on first use,
 * ~2 ms of every command that walks a context (bench/noop-rebuild), and a
 * clock step only moves one turn.
 */
export class Slicer {
  private deadline: number;
  constructor(private readonly sliceMs = 8) {
    this.deadline = Date.now() + sliceMs;
  }
  async maybeYield(): Promise<void> {
    if (Date.now() < this.deadline) return;
    await nextTurn();
    this.deadline = Date.now() + this.sliceMs;
  }
}
