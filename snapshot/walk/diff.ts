/**
 * What a RUN step changed, as layer entries in layer order: the rootfs
 * walked again and compared, directory by directory, with the WalkState
 * captured before the step. Feed the result to the layer writer with
 * `ordered: true`; file content is opened from disk only when the writer
 * reaches the file.
 *
 * A path is in the layer when
 * - it is new, or its type changed (a directory that became a file, a file
 *   that became a directory: the applier replaces what is below, so the new
 *   entry is enough and no whiteout is written for the old one, as Docker
 *   and containerd do);
 * - a directory's mode, owner, mtime or extended attributes changed (a
 *   change of ctime alone is not one: a runner's bind mount over a file in
 *   the directory moves it); a directory whose inode changed was removed and
 *   made again: it gets an opaque marker and all of its content, like an
 *   overlay upper dir;
 * - anything else's mode, owner, size, mtime, inode or ctime changed.
 *   Comparing ctime is what makes content hashing unnecessary: a write that
 *   keeps size and restores mtime (`touch -r`, `cp -p` onto the same inode)
 *   still moves ctime, which no system call can set back. It also brings in
 *   a file whose link count or xattrs changed, with all of its names, so a
 *   hard-link group is never split between this layer and a lower one.
 * Each entry carries the extended attributes layers carry (snapshot/xattrs.ts),
 * read when the entry is written: file capabilities set by `setcap` reach
 * the layer.
 * A path that is gone becomes a whiteout, unless its parent is gone, replaced
 * or opaque. Every directory above an entry is written with its real
 * metadata, so applying the layer never resets an unchanged parent.
 *
 * Files with several links share a `linkKey`: the first name in layer order
 * carries the content, the others become hard links to it.
 *
 * The walk records the state after the step as it goes (`after`), so the
 * next RUN of the stage needs no capture of its own. A directory whose inode,
 * mtime and ctime are all unchanged has the same names as before, so it is
 * not listed again.
 */
import { readlinkSync, type Stats } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { HoistError } from '../../src/errors.js';
import { seconds, splitDevice } from '../dir-source.js';
import { streamFile } from '../file-content.js';
import { imageXattrs, readXattrsSync, type KeptXattrs } from '../xattrs.js';
import { WHITEOUT_PREFIX, type LayerEntry } from '../layer-entry.js';
import {
  childPath,
  compareNames,
  effectiveMode,
  listDir,
  lstatExact,
  lstatOrGone,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
  Slicer,
  imageRootTest,
  type ImageOwner,
  type InodeOwners,
  type Owner,
  type OwnerOverrides,
} from './scope.js';
import { settle, WalkState } from './state.js';

export interface DiffOptions {
  /** Owners that apply instead of the inode's (the step's runner recorded them); compared and written as given. */
  owners?: OwnerOverrides;
  /**
   * For runners that fake the step's ids (proot -i): what the step created
   * is owned on disk by hoist (`onDisk`), and belongs to the step's user
   * (`owner`). Applies to paths that are new or changed type in this step,
   * whose inode is `onDisk`'s, and that have no entry in `owners`.
   */
  created?: { onDisk: Owner; owner: Owner };
  /**
   * Owners (and modes) a recorder saw the step set, by inode: they beat
   * every other rule. The recorder reports only what the step changed, so
   * a stale record cannot reach a new file that reuses a freed inode.
   */
  inodeOwners?: InodeOwners;
  /** The image's owner of what no other rule names; default the owner on disk. */
  imageOwner?: ImageOwner;
  /** Attributes files have in the image that their inodes on disk lack, by path (xattrs.ts). */
  keptXattrs?: ReadonlyMap<string, KeptXattrs>;
  /** Paths the step changed without a trace in their stat (an attribute set through fakeroot, kept in `keptXattrs`): written whatever the stat says. */
  rewritten?: ReadonlySet<string>;
}

/** No record before the step: everything below is new. */
const NONE = -1;

/** A directory above the current one; its stat is read again, exactly, only if it is written. */
interface Ancestor {
  path: string;
  owner: Owner;
  written: boolean;
}

interface Item {
  /** The name the entry sorts by: the file's own, or `.wh.<name>` for a deletion. */
  sortName: string;
  name: string;
  /** Its record before the step, or NONE. */
  before: number;
  gone: boolean;
}

/** Entries in layer order; read them to the end, then `after()` is the state for the next step. */
export function diffState(root: string, before: WalkState, opts: DiffOptions = {}): WalkDiff {
  return new WalkDiff(root, before, opts);
}

export class WalkDiff implements AsyncIterable<LayerEntry> {
  private state: WalkState | undefined;

  constructor(
    private readonly root: string,
    private readonly before: WalkState,
    private readonly opts: DiffOptions,
  ) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<LayerEntry, void, undefined> {
    const base = await realpath(this.root);
    const rootStat = lstatOrGone(base);
    if (rootStat === undefined || (rootStat.mode & S_IFMT) !== S_IFDIR) {
      throw new HoistError('NOT_A_DIRECTORY', `${this.root} is not a directory`);
    }
    const walk = new DiffWalk(base, this.before, this.opts, this.before.count);
    const rootIndex = walk.after.add('', rootStat, walk.ownerOf('', rootStat, 0));
    yield* walk.dir('', rootStat, 0, rootIndex);
    await settle();
    this.state = walk.after;
  }

  /** The rootfs as the diff saw it: the `before` of the next step. Only once the entries were read to the end. */
  after(): WalkState {
    if (this.state === undefined) throw new HoistError('INTERNAL', 'the state after a step is known only once its diff has been read to the end');
    return this.state;
  }
}

class DiffWalk {
  readonly after: WalkState;
  private readonly chain: Ancestor[] = [];
  private readonly slicer = new Slicer();
  private readonly owners: OwnerOverrides | undefined;
  private readonly inodeOwners: InodeOwners | undefined;
  private readonly created: DiffOptions['created'];
  private readonly imageOwner: ImageOwner | undefined;
  private readonly keptXattrs: ReadonlyMap<string, KeptXattrs> | undefined;
  private readonly rewritten: ReadonlySet<string> | undefined;
  private readonly isImageRoot: ((hostUid: number) => boolean) | undefined;

  constructor(
    private readonly base: string,
    private readonly before: WalkState,
    opts: DiffOptions,
    capacity: number,
  ) {
    this.owners = opts.owners !== undefined && opts.owners.size > 0 ? opts.owners : undefined;
    this.inodeOwners = opts.inodeOwners !== undefined && opts.inodeOwners.size > 0 ? opts.inodeOwners : undefined;
    this.created = opts.created;
    this.imageOwner = opts.imageOwner;
    this.keptXattrs = opts.keptXattrs !== undefined && opts.keptXattrs.size > 0 ? opts.keptXattrs : undefined;
    this.rewritten = opts.rewritten !== undefined && opts.rewritten.size > 0 ? opts.rewritten : undefined;
    this.isImageRoot = imageRootTest(opts.imageOwner);
    this.after = new WalkState(base, before.excluded, Math.max(1024, capacity));
  }

  /**
   * The changes below directory `rel` (stat `st`, record `rec` in `after`),
   * whose record before the step is `was` (NONE: nothing below it survives).
   */
  async *dir(rel: string, st: Stats, was: number, rec: number): AsyncGenerator<LayerEntry, void, undefined> {
    const abs = rel === '' ? this.base : `${this.base}/${rel}`;
    const items = this.items(abs, rel, was, st);
    // Stat and record all children first: a directory's children are consecutive in the state.
    const stats: Array<Stats | undefined> = new Array(items.length);
    const records = new Int32Array(items.length).fill(NONE);
    const first = this.after.count;
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as Item;
      if (item.gone) continue;
      const path = childPath(rel, item.name);
      const cst = lstatOrGone(`${abs}/${item.name}`);
      if (cst === undefined) throw vanished(path);
      if ((cst.mode & S_IFMT) === S_IFSOCK) continue;
      stats[i] = cst;
      const r = this.after.add(item.name, cst, this.ownerOf(path, cst, item.before));
      records[i] = r;
      if ((cst.mode & S_IFMT) === S_IFDIR) this.recordDirXattrs(r, `${abs}/${item.name}`, cst, item.before);
    }
    this.after.firstChild[rec] = first;
    this.after.childCount[rec] = this.after.count - first;

    for (let i = 0; i < items.length; i++) {
      await this.slicer.maybeYield();
      const item = items[i] as Item;
      const path = childPath(rel, item.name);
      const cst = stats[i];
      if (item.gone) yield* this.write({ kind: 'whiteout', path });
      else if (cst !== undefined) yield* this.path(path, cst, item.before, records[i] as number);
    }
  }

  private async *path(path: string, st: Stats, b: number, rec: number): AsyncGenerator<LayerEntry, void, undefined> {
    const type = st.mode & S_IFMT;
    const owner = this.ownerOf(path, st, b);
    const before = this.before;
    const sameType = b !== NONE && ((before.modes[b] ?? 0) & S_IFMT) === type;
    if (type !== S_IFDIR) {
      if (!sameType || this.changed(b, st, owner) || before.ctimes[b] !== st.ctimeMs || this.rewritten?.has(path) === true) yield* this.write(this.entry(path, owner));
      return;
    }
    const replaced = sameType && before.inodes[b] !== st.ino;
    // setfattr on a directory moves nothing but ctime; a runner's bind mount below it moves ctime too, so the attributes decide.
    const written = !sameType || replaced || this.changed(b, st, owner) || this.after.dirXattrs.get(rec) !== before.dirXattrs.get(b) || this.rewritten?.has(path) === true;
    if (written) yield* this.write(this.entry(path, owner));
    if (replaced) yield* this.write({ kind: 'opaque', path });
    this.chain.push({ path, owner, written });
    try {
      yield* this.dir(path, st, sameType && !replaced ? b : NONE, rec);
    } finally {
      this.chain.pop();
    }
  }

  /**
   * The xattrs of the directory at record `rec` of `after`: the ones
   * recorded before the step when its ctime did not move (setting one
   * moves it), else read again.
   */
  private recordDirXattrs(rec: number, abs: string, st: Stats, b: number): void {
    const before = this.before;
    if (b !== NONE && before.isDir(b) && before.inodes[b] === st.ino && before.ctimes[b] === st.ctimeMs) {
      const kept = before.dirXattrs.get(b);
      if (kept !== undefined) this.after.dirXattrs.set(rec, kept);
    } else {
      this.after.readDirXattrs(rec, abs);
    }
  }

  /** Mode (type bits included), owner, size, mtime or inode differ; ctime is the caller's to compare. */
  private changed(b: number, st: Stats, owner: Owner): boolean {
    const before = this.before;
    if (before.modes[b] !== effectiveMode(st.mode, owner) || before.uids[b] !== owner.uid || before.gids[b] !== owner.gid) return true;
    if (before.mtimes[b] !== st.mtimeMs || before.inodes[b] !== st.ino) return true;
    return (st.mode & S_IFMT) !== S_IFDIR && before.sizes[b] !== st.size; // a directory's size is the filesystem's business
  }

  /** `entry`, after the directories above it that are not in the layer yet. */
  private *write(entry: LayerEntry): Generator<LayerEntry, void, undefined> {
    for (const link of this.chain) {
      if (link.written) continue;
      link.written = true;
      yield this.entry(link.path, link.owner);
    }
    yield entry;
  }

  /** The directory's children now and before, in layer order; deletions sort as their whiteout names. */
  private items(abs: string, rel: string, was: number, st: Stats): Item[] {
    const before = this.before;
    const first = was === NONE ? 0 : (before.firstChild[was] ?? 0);
    const end = was === NONE ? 0 : first + (before.childCount[was] ?? 0);
    const items: Item[] = [];
    if (was !== NONE && before.inodes[was] === st.ino && before.mtimes[was] === st.mtimeMs && before.ctimes[was] === st.ctimeMs) {
      // No entry was added, removed or renamed here: the names are the ones recorded.
      for (let i = first; i < end; i++) {
        const name = before.names[i] as string;
        items.push({ sortName: name, name, before: i, gone: false });
      }
    } else {
      const formerly = new Map<string, number>();
      for (let i = first; i < end; i++) formerly.set(before.names[i] as string, i);
      for (const dirent of listDir(abs, rel)) {
        if (dirent.isSocket() || before.excluded.has(childPath(rel, dirent.name))) continue;
        const b = formerly.get(dirent.name);
        if (b !== undefined) formerly.delete(dirent.name);
        items.push({ sortName: dirent.name, name: dirent.name, before: b ?? NONE, gone: false });
      }
      for (const [name, b] of formerly) items.push({ sortName: `${WHITEOUT_PREFIX}${name}`, name, before: b, gone: true });
    }
    return items.sort((x, y) => compareNames(x.sortName, y.sortName));
  }

  /** The owner in the image: recorded by inode, by path, made by the step under a faked id, or as on disk (translated). */
  ownerOf(path: string, st: Stats, b: number): Owner {
    return (
      this.inodeOwners?.get(`${st.dev}:${st.ino}`) ??
      this.owners?.get(path) ??
      this.createdOwner(st, b) ??
      this.imageOwner?.(st.uid, st.gid) ?? { uid: st.uid, gid: st.gid }
    );
  }

  /** The step's owner for what it created, where the runner cannot put it on disk (DiffOptions.created). */
  private createdOwner(st: Stats, b: number): Owner | undefined {
    const c = this.created;
    if (c === undefined || st.uid !== c.onDisk.uid || st.gid !== c.onDisk.gid) return undefined;
    const isNew = b === NONE || ((this.before.modes[b] ?? 0) & S_IFMT) !== (st.mode & S_IFMT);
    return isNew ? c.owner : undefined;
  }

  /** The layer entry of `path`, from an exact stat (nanoseconds, dev and inode for the content check). */
  private entry(path: string, owner: Owner): LayerEntry {
    const st = lstatExact(`${this.base}/${path}`);
    if (st === undefined) {
      throw vanished(path);
    }
    const xattrs = imageXattrs(readXattrsSync(`${this.base}/${path}`), this.isImageRoot, this.keptXattrs?.get(path), st);
    const meta = { path, mode: owner.mode ?? Number(st.mode & 0o7777n), uid: owner.uid, gid: owner.gid, mtime: seconds(st.mtimeNs), ...(xattrs ? { xattrs } : {}) };
    const type = Number(st.mode) & S_IFMT;
    if (type === S_IFREG) {
      const abs = `${this.base}/${path}`;
      const size = Number(st.size);
      const id = { dev: st.dev, ino: st.ino };
      const file: LayerEntry = { ...meta, kind: 'file', size, open: () => streamFile(abs, path, size, id) };
      if (st.nlink > 1n) file.linkKey = `${st.dev}:${st.ino}`;
      return file;
    }
    if (type === S_IFDIR) return { ...meta, kind: 'dir' };
    if (type === S_IFLNK) return { ...meta, kind: 'symlink', linkname: readlinkSync(`${this.base}/${path}`) };
    if (st.isFIFO()) return { ...meta, kind: 'fifo' };
    if (st.isCharacterDevice() || st.isBlockDevice()) {
      return { ...meta, kind: st.isCharacterDevice() ? 'char-device' : 'block-device', ...splitDevice(st.rdev) };
    }
    throw new HoistError('INTERNAL', `/${path}: unexpected file type ${type.toString(8)}`);
  }
}

function vanished(path: string): HoistError {
  return new HoistError('FILE_CHANGED', `/${path} disappeared while the step's changes were being read`, {
    hint: 'a process the step started is still changing the rootfs; make the step wait for its background processes',
  });
}
