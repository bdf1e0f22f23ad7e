/**
 * The state of a rootfs before a RUN step, as the `walk` snapshotter keeps
 * it: one compact record per path, in flat typed arrays rather than an
 * object per entry (100k entries take a few MB and no GC pressure).
 *
 * Records are laid out directory by directory: the children of a directory
 * are consecutive (`firstChild`, `childCount`), so the diff finds a
 * directory's former children without a path index, and no path string is
 * built or kept for them besides their names.
 *
 * Content is never read. After the capture the walk waits a little over one
 * kernel clock tick (CLOCK_GUARD_MS): inode timestamps come from a coarse
 * clock, and without the wait a file changed in the same tick just before
 * and just after the capture could show the same ctime twice. With it, any
 * change the step makes gives the inode a ctime later than the one recorded,
 * and since no system call can set ctime, stat alone decides (diff.ts).
 *
 * Directories also keep their extended attributes (as a fingerprint): a
 * runner's bind mounts over files in etc/ move etc/'s ctime and nothing
 * else, and only the attributes tell that apart from a `setfattr` on the
 * directory.
 */
import type { Stats } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { HoistError } from '../../src/errors.js';
import { readXattrsSync } from '../xattrs.js';
import {
  childPath,
  excludedSet,
  listDir,
  lstatOrGone,
  S_IFDIR,
  S_IFMT,
  S_IFSOCK,
  Slicer,
  effectiveMode,
  type ImageOwner,
  type Owner,
  type OwnerOverrides,
  type WalkScope,
} from './scope.js';

/** Longer than one tick at HZ=100 (10 ms), the coarsest Linux timestamp clock. */
const CLOCK_GUARD_MS = 20;

export interface CaptureOptions extends WalkScope {
  /** Owners that apply instead of the inode's, as the step's runner will report them afterwards. */
  owners?: OwnerOverrides;
  /** The image's owner of what no override names; default the owner on disk. */
  imageOwner?: ImageOwner;
}

export class WalkState {
  /** The rootfs, resolved. */
  readonly root: string;
  /** Never captured (scope.ts); the diff skips them too. */
  readonly excluded: ReadonlySet<string>;
  count = 0;
  /** Base names; index 0 is the root itself (''). */
  names: string[] = [];
  /** st_mode, type bits included. */
  modes: Uint32Array;
  uids: Uint32Array;
  gids: Uint32Array;
  sizes: Float64Array;
  /**
   * Milliseconds as Node's Stats gives them, a double: exact to about a
   * quarter of a microsecond today, far finer than CLOCK_GUARD_MS, which is
   * what ctime comparison needs. (BigInt stats cost about a quarter more per
   * entry; the diff reads exact nanoseconds only for what it writes.)
   */
  mtimes: Float64Array;
  ctimes: Float64Array;
  /** Exact below 2^53; should two inode numbers above it look alike, ctime still tells the files apart. */
  inodes: Float64Array;
  firstChild: Uint32Array;
  childCount: Uint32Array;
  /** Record index -> fingerprint of a directory's carried xattrs (xattrFingerprint), for directories that have any. */
  readonly dirXattrs = new Map<number, string>();

  constructor(root: string, excluded: ReadonlySet<string>, capacity = 1024) {
    this.root = root;
    this.excluded = excluded;
    this.modes = new Uint32Array(capacity);
    this.uids = new Uint32Array(capacity);
    this.gids = new Uint32Array(capacity);
    this.sizes = new Float64Array(capacity);
    this.mtimes = new Float64Array(capacity);
    this.ctimes = new Float64Array(capacity);
    this.inodes = new Float64Array(capacity);
    this.firstChild = new Uint32Array(capacity);
    this.childCount = new Uint32Array(capacity);
  }

  /** Appends a record and returns its index. */
  add(name: string, st: Stats, owner: Owner | undefined): number {
    if (this.count === this.modes.length) this.grow();
    const i = this.count++;
    this.names.push(name);
    this.modes[i] = effectiveMode(st.mode, owner);
    this.uids[i] = owner === undefined ? st.uid : owner.uid;
    this.gids[i] = owner === undefined ? st.gid : owner.gid;
    this.sizes[i] = st.size;
    this.mtimes[i] = st.mtimeMs;
    this.ctimes[i] = st.ctimeMs;
    this.inodes[i] = st.ino;
    return i;
  }

  /** Record the xattrs of the directory at record `i` (on disk at `abs`). */
  readDirXattrs(i: number, abs: string): void {
    const fingerprint = xattrFingerprint(abs);
    if (fingerprint !== undefined) this.dirXattrs.set(i, fingerprint);
  }

  /** The record of `rel` (a path relative to the root, '' for the root), if it was captured. */
  indexOf(rel: string): number | undefined {
    let at = 0;
    for (const name of rel.split('/')) {
      if (name === '') continue;
      if (!this.isDir(at)) return undefined;
      const first = this.firstChild[at] ?? 0;
      const end = first + (this.childCount[at] ?? 0);
      let found: number | undefined;
      for (let j = first; j < end; j++) {
        if (this.names[j] === name) {
          found = j;
          break;
        }
      }
      if (found === undefined) return undefined;
      at = found;
    }
    return at;
  }

  isDir(i: number): boolean {
    return ((this.modes[i] ?? 0) & S_IFMT) === S_IFDIR;
  }

  private grow(): void {
    const n = this.modes.length * 2;
    const grown = <T extends { length: number; set(a: T): void }>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.modes = grown(this.modes, (k) => new Uint32Array(k));
    this.uids = grown(this.uids, (k) => new Uint32Array(k));
    this.gids = grown(this.gids, (k) => new Uint32Array(k));
    this.sizes = grown(this.sizes, (k) => new Float64Array(k));
    this.mtimes = grown(this.mtimes, (k) => new Float64Array(k));
    this.ctimes = grown(this.ctimes, (k) => new Float64Array(k));
    this.inodes = grown(this.inodes, (k) => new Float64Array(k));
    this.firstChild = grown(this.firstChild, (k) => new Uint32Array(k));
    this.childCount = grown(this.childCount, (k) => new Uint32Array(k));
  }
}

/** Records every path under `root` (lstat only, symlinks never followed), before a step runs. */
export async function captureState(root: string, opts: CaptureOptions = {}): Promise<WalkState> {
  const base = await realpath(root);
  const rootStat = lstatOrGone(base);
  if (rootStat === undefined || (rootStat.mode & S_IFMT) !== S_IFDIR) {
    throw new HoistError('NOT_A_DIRECTORY', `${root} is not a directory`);
  }
  const state = new WalkState(base, excludedSet(opts.exclude), 4096);
  const owners = opts.owners !== undefined && opts.owners.size > 0 ? opts.owners : undefined;
  const fallback = opts.imageOwner;
  const ownerOf = (rel: string, st: Stats): Owner | undefined => owners?.get(rel) ?? fallback?.(st.uid, st.gid);
  state.add('', rootStat, ownerOf('', rootStat));
  const slicer = new Slicer();
  // Directories still to read: record index and relative path.
  const pending: Array<{ index: number; rel: string }> = [{ index: 0, rel: '' }];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    const abs = dir.rel === '' ? base : `${base}/${dir.rel}`;
    const first = state.count;
    for (const dirent of listDir(abs, dir.rel)) {
      if (dirent.isSocket()) continue; // a tar cannot hold one: never in a layer, never whited out
      const rel = childPath(dir.rel, dirent.name);
      if (state.excluded.has(rel)) continue;
      const st = lstatOrGone(`${abs}/${dirent.name}`);
      if (st === undefined || (st.mode & S_IFMT) === S_IFSOCK) continue;
      const i = state.add(dirent.name, st, ownerOf(rel, st));
      if ((st.mode & S_IFMT) === S_IFDIR) {
        state.readDirXattrs(i, `${abs}/${dirent.name}`);
        pending.push({ index: i, rel });
      }
    }
    state.firstChild[dir.index] = first;
    state.childCount[dir.index] = state.count - first;
    await slicer.maybeYield();
  }
  await settle();
  return state;
}

/** The carried xattrs of `abs` (snapshot/xattrs.ts) as one comparable string; undefined when it has none. */
export function xattrFingerprint(abs: string): string | undefined {
  const values = readXattrsSync(abs);
  if (values === undefined) return undefined;
  return Object.keys(values)
    .sort()
    .map((name) => `${name}=${(values[name] as Buffer).toString('base64')}`)
    .join('\0');
}

/** Waits out the clock tick in which the state was read (see the top of this file). */
export async function settle(): Promise<void> {
  await sleep(CLOCK_GUARD_MS);
}
