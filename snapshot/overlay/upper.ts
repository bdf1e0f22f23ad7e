/**
 * An overlay upper dir as layer entries: after a step ran on an overlay
 * mount whose lower dir is the rootfs, the upper dir holds exactly what it
 * changed, so reading it costs what the step changed, not the rootfs's size.
 *
 * overlayfs's own notation becomes the layer's:
 * - a whiteout (a character device 0/0; the kernel makes them all hard links
 *   to one inode) is a `whiteout` entry, each on its own;
 * - a directory marked opaque (`user.overlay.opaque` or
 *   `trusted.overlay.opaque` = "y") that replaced a lower directory is its
 *   entry, an `opaque` entry and all of its content;
 * - every `*.overlay.*` attribute is left out (xattrs.ts never reads them).
 *
 * The result matches the walk snapshotter's (walk/diff.ts) for the same
 * change: the same order (deletions sort as their `.wh.` names), a directory
 * that replaced a non-directory is just new (no opaque entry, no whiteout),
 * whiteouts only for what the lower dir has, the same owners map. The upper
 * dir has every directory above a change (overlayfs copies them up), so
 * each is written with its real metadata.
 *
 * Entries are read before the upper dir is merged into the rootfs
 * (merge.ts) and their content after: a file entry opens `<rootfs>/<path>`,
 * where the merge renames the same inode to (its identity is checked).
 */
import { readlinkSync, readdirSync, type BigIntStats } from 'node:fs';
import { HoistError } from '../../src/errors.js';
import { seconds, splitDevice } from '../dir-source.js';
import { streamFile } from '../file-content.js';
import { WHITEOUT_PREFIX, type LayerEntry } from '../layer-entry.js';
import type { StepChangeOptions } from '../step-snapshotter.js';
import { childPath, compareNames, excludedSet, lstatExact, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, Slicer, type Owner } from '../walk/scope.js';
import { readOneXattrSync, readXattrsSync } from '../xattrs.js';

const S_IFCHR = 0o020000;

export interface UpperOptions extends StepChangeOptions {
  /** Paths the runner put there (walk/scope.ts WalkScope); `proc`, `dev` and `sys` always. */
  exclude?: readonly string[];
}

/** A whiteout as overlayfs writes one in an upper dir. */
export function isWhiteout(st: BigIntStats): boolean {
  return (Number(st.mode) & S_IFMT) === S_IFCHR && st.rdev === 0n;
}

/** Whether overlayfs marked directory `abs` opaque (it hides the lower directory of the same name). */
export function isOpaque(abs: string): boolean {
  for (const name of ['user.overlay.opaque', 'trusted.overlay.opaque']) {
    if (readOneXattrSync(abs, name)?.toString() === 'y') return true;
  }
  return false;
}

interface Item {
  name: string;
  sortName: string;
  st: BigIntStats;
  whiteout: boolean;
}

/** The step's changes in layer order, from `upper` (the step's upper dir) over `lower` (the rootfs, not merged yet). */
export async function* upperEntries(upper: string, lower: string, opts: UpperOptions = {}): AsyncGenerator<LayerEntry, void, undefined> {
  const reader = new UpperReader(upper, lower, opts);
  yield* reader.dir('', true);
}

class UpperReader {
  private readonly excluded: ReadonlySet<string>;
  private readonly slicer = new Slicer();

  constructor(
    private readonly upper: string,
    private readonly lower: string,
    private readonly opts: UpperOptions,
  ) {
    this.excluded = excludedSet(opts.exclude);
  }

  /** The changes below `rel`; `continues`: the lower dir has a directory here that the upper one does not hide. */
  async *dir(rel: string, continues: boolean): AsyncGenerator<LayerEntry, void, undefined> {
    const abs = rel === '' ? this.upper : `${this.upper}/${rel}`;
    const items: Item[] = [];
    for (const name of readdirSync(abs)) {
      if (this.excluded.has(childPath(rel, name))) continue;
      const st = lstatExact(`${abs}/${name}`);
      if (st === undefined) throw new HoistError('INTERNAL', `/${childPath(rel, name)} vanished from the step's upper dir`);
      const whiteout = isWhiteout(st);
      items.push({ name, st, whiteout, sortName: whiteout ? `${WHITEOUT_PREFIX}${name}` : name });
    }
    items.sort((x, y) => compareNames(x.sortName, y.sortName));
    for (const item of items) {
      await this.slicer.maybeYield();
      const path = childPath(rel, item.name);
      const type = Number(item.st.mode) & S_IFMT;
      if (item.whiteout) {
        // Only where something below is hidden: the walk never sees the rest.
        if (continues && this.lowerType(path) !== undefined) yield { kind: 'whiteout', path };
        continue;
      }
      if (type === S_IFSOCK) continue;
      const lowerType = continues ? this.lowerType(path) : undefined;
      yield this.entry(path, item.st, lowerType !== type);
      if (type !== S_IFDIR) continue;
      const lowerIsDir = lowerType === S_IFDIR;
      const opaque = lowerIsDir && isOpaque(`${this.upper}/${path}`);
      if (opaque) yield { kind: 'opaque', path };
      yield* this.dir(path, lowerIsDir && !opaque);
    }
  }

  /** The file type the rootfs has at `path` before the merge, or undefined. */
  private lowerType(path: string): number | undefined {
    const st = lstatExact(`${this.lower}/${path}`);
    return st === undefined ? undefined : Number(st.mode) & S_IFMT;
  }

  private ownerOf(path: string, st: BigIntStats, isNew: boolean): Owner {
    const listed = this.opts.owners?.get(path);
    if (listed !== undefined) return listed;
    const c = this.opts.created;
    if (c !== undefined && isNew && Number(st.uid) === c.onDisk.uid && Number(st.gid) === c.onDisk.gid) return c.owner;
    return { uid: Number(st.uid), gid: Number(st.gid) };
  }

  private entry(path: string, st: BigIntStats, isNew: boolean): LayerEntry {
    const at = `${this.upper}/${path}`;
    const owner = this.ownerOf(path, st, isNew);
    const xattrs = readXattrsSync(at);
    const meta = { path, mode: Number(st.mode & 0o7777n), uid: owner.uid, gid: owner.gid, mtime: seconds(st.mtimeNs), ...(xattrs ? { xattrs } : {}) };
    const type = Number(st.mode) & S_IFMT;
    if (type === S_IFREG) {
      const merged = `${this.lower}/${path}`;
      const size = Number(st.size);
      const id = { dev: st.dev, ino: st.ino };
      const file: LayerEntry = { ...meta, kind: 'file', size, open: () => streamFile(merged, path, size, id) };
      if (st.nlink > 1n) file.linkKey = `${st.dev}:${st.ino}`;
      return file;
    }
    if (type === S_IFDIR) return { ...meta, kind: 'dir' };
    if (type === S_IFLNK) return { ...meta, kind: 'symlink', linkname: readlinkSync(at) };
    if (st.isFIFO()) return { ...meta, kind: 'fifo' };
    if (st.isCharacterDevice() || st.isBlockDevice()) {
      return { ...meta, kind: st.isCharacterDevice() ? 'char-device' : 'block-device', ...splitDevice(st.rdev) };
    }
    throw new HoistError('INTERNAL', `/${path}: unexpected file type ${type.toString(8)} in the step's upper dir`);
  }
}
