/**
 * Entries in layer order -> tar headers, one entry at a time: names checked
 * and normalised, order checked, missing parent directories added, mtimes
 * clamped, hard-link groups resolved. What it remembers does not grow with
 * the number of entries: the chain of directories above the last entry, the
 * first name of each hard-linked inode, and the targets of explicit hard
 * links that have not been reached yet.
 *
 * Layer order is defined in layer-path.ts (component-wise byte order; an
 * opaque marker right after its directory). Unordered input goes through
 * layer-plan.ts first.
 */
import type { Readable } from 'node:stream';
import { HoistError } from '../src/errors.js';
import { OPAQUE_MARKER, WHITEOUT_PREFIX, type LayerEntry } from './layer-entry.js';
import { ancestorsOf, baseName, normalizeLayerPath, opaqueOrderKey, orderKey, parentOf } from './layer-path.js';
import type { TarHeader } from '../src/tar/index.js';

export interface TarOptions {
  /**
   * SOURCE_DATE_EPOCH, in seconds: every mtime later than this becomes this
   * (BuildKit's rewrite-timestamp). Also the mtime of synthesized parents.
   */
  clampMtime?: number;
  /**
   * The source already yields entries in layer order (entriesFromDirectory
   * does): write them as they arrive, in memory that does not depend on how
   * many there are. An entry out of order fails the layer (ENTRY_ORDER).
   * Otherwise all entries are collected and sorted first.
   */
  ordered?: boolean;
}

export interface PlannedEntry {
  header: TarHeader;
  /** Content of a `file` header (a stream, or the bytes when the entry holds them); absent for every other type and for empty marker files. */
  open?: () => Readable | Buffer[];
}

/** Mode of a directory the entries imply but do not list. */
export const SYNTHESIZED_DIR_MODE = 0o755;

/** The tar name of an entry (without a directory's trailing slash) and its sort key. */
export function layerName(entry: LayerEntry): { path: string; name: string; key: Buffer } {
  const path = normalizeLayerPath(entry.path);
  if (entry.kind === 'whiteout') {
    const dir = parentOf(path);
    const name = `${WHITEOUT_PREFIX}${baseName(path)}`;
    const full = dir === '' ? name : `${dir}/${name}`;
    return { path, name: full, key: orderKey(full) };
  }
  if (entry.kind === 'opaque') return { path, name: `${path}/${OPAQUE_MARKER}`, key: opaqueOrderKey(path) };
  if (baseName(path).startsWith(WHITEOUT_PREFIX)) {
    throw new HoistError('RESERVED_NAME', `${path}: names starting with ${WHITEOUT_PREFIX} mark deletions in a layer`, {
      hint: 'a file with this name cannot be stored in an OCI layer',
    });
  }
  return { path, name: path, key: orderKey(path) };
}

export function checkClamp(clamp: number | undefined): void {
  if (clamp !== undefined && (!Number.isFinite(clamp) || clamp < 0)) {
    throw new HoistError('INVALID_OPTION', `clampMtime must be a non-negative number of seconds, got ${clamp}`);
  }
}

/**
 * The state of one layer being written. `accept` returns the headers for
 * one entry: synthesized parents first, then the entry's own.
 */
export class LayerSequencer {
  private prevKey: Buffer | null = null;
  private prevName = '';
  /** The last entry and the directories above it, outermost first. */
  private readonly chain: Array<{ name: string; isDir: boolean }> = [];
  /** linkKey -> tar name of the group member that carries the content. */
  private readonly leaders = new Map<string, string>();
  /** Targets of explicit hard links that sort after their link: reaching one is an error. */
  private readonly laterTargets = new Map<string, string>();
  private readonly clamp: number | undefined;

  constructor(opts: TarOptions = {}) {
    checkClamp(opts.clampMtime);
    this.clamp = opts.clampMtime === undefined ? undefined : Math.floor(opts.clampMtime);
  }

  accept(entry: LayerEntry): PlannedEntry[] {
    const { path, name, key } = layerName(entry);
    this.checkOrder(name, key);
    const waiting = this.laterTargets.get(name);
    if (waiting !== undefined) {
      throw new HoistError('INVALID_HARDLINK', `hard link ${waiting} comes before its target ${name} in the layer`, {
        hint: 'in an ordered source a hard link must follow its target; let the writer sort the entries instead',
      });
    }
    const out = this.parents(name);
    this.chain.push({ name, isDir: entry.kind === 'dir' });
    out.push(this.plan(entry, path, name, key));
    return out;
  }

  private checkOrder(name: string, key: Buffer): void {
    if (this.prevKey !== null) {
      const c = Buffer.compare(this.prevKey, key);
      if (c === 0) throw new HoistError('DUPLICATE_PATH', `${name} appears twice in the layer`);
      if (c > 0) {
        throw new HoistError('ENTRY_ORDER', `layer entries out of order: ${name} after ${this.prevName}`, {
          hint: 'an ordered source must yield entries in layer order (see layer-path.ts)',
        });
      }
    }
    this.prevKey = key;
    this.prevName = name;
  }

  /** Headers for the directories above `name` that are not there yet. */
  private parents(name: string): PlannedEntry[] {
    // Usually the parent ends the chain, or comes just before a sibling that does (a sorted layer
    // lists it first): then nothing is missing, and nothing need be split.
    const slash = name.lastIndexOf('/');
    const parent = slash === -1 ? '' : name.slice(0, slash);
    const top = this.chain.length;
    const parentDepth = parent === '' ? 0 : this.chain[top - 1]?.name === parent ? top : this.chain[top - 2]?.name === parent ? top - 1 : -1;
    if (parentDepth !== -1) {
      this.chain.length = parentDepth;
      const known = this.chain[parentDepth - 1];
      if (known !== undefined && !known.isDir) throw new HoistError('PARENT_NOT_DIRECTORY', `${name}: parent ${known.name} is not a directory in this layer`);
      return [];
    }
    const dirs = ancestorsOf(name);
    // The chain runs from the root down, so when one of its links is an ancestor of `name`, all
    // above it are too: search from the deepest candidate up. Links are dropped once each, which
    // keeps a deep tree linear. Only the deepest link can be a non-directory (nothing was
    // accepted below one), so it alone is checked.
    let depth = Math.min(this.chain.length, dirs.length);
    while (depth > 0 && this.chain[depth - 1]?.name !== dirs[depth - 1]) depth--;
    this.chain.length = depth;
    const last = this.chain[depth - 1];
    if (last !== undefined && !last.isDir) throw new HoistError('PARENT_NOT_DIRECTORY', `${name}: parent ${last.name} is not a directory in this layer`);
    const out: PlannedEntry[] = [];
    for (const dir of dirs.slice(depth)) {
      const mtime = this.clamp ?? 0;
      out.push({ header: { name: `${dir}/`, type: 'dir', mode: SYNTHESIZED_DIR_MODE, uid: 0, gid: 0, size: 0, mtime } });
      this.chain.push({ name: dir, isDir: true });
    }
    return out;
  }

  private plan(e: LayerEntry, path: string, name: string, key: Buffer): PlannedEntry {
    switch (e.kind) {
      case 'whiteout':
      case 'opaque':
        return { header: { name, type: 'file', mode: 0, uid: 0, gid: 0, size: 0, mtime: this.time(e.mtime ?? 0) } };
      case 'dir':
        return { header: { ...this.owned(e), name: `${path}/`, type: 'dir', size: 0 } };
      case 'symlink':
        return { header: { ...this.owned(e), name, type: 'symlink', size: 0, linkname: e.linkname } };
      case 'fifo':
        return { header: { ...this.owned(e), name, type: 'fifo', size: 0 } };
      case 'char-device':
      case 'block-device':
        return { header: { ...this.owned(e), name, type: e.kind, size: 0, devmajor: e.devmajor, devminor: e.devminor } };
      case 'hardlink': {
        const target = normalizeLayerPath(e.target);
        if (target === name) throw new HoistError('INVALID_HARDLINK', `${name} is a hard link to itself`);
        if (Buffer.compare(orderKey(target), key) > 0) this.laterTargets.set(target, name);
        const { xattrs: _inode, ...meta } = this.owned(e);
        return { header: { ...meta, name, type: 'link', size: 0, linkname: target } };
      }
      case 'file': {
        if (e.linkKey !== undefined) {
          const leader = this.leaders.get(e.linkKey);
          if (leader !== undefined) {
            // The inode's xattrs travel with its first name only.
            const { xattrs: _inode, ...meta } = this.owned(e);
            return { header: { ...meta, name, type: 'link', size: 0, linkname: leader } };
          }
          this.leaders.set(e.linkKey, name);
        }
        const { readWhole } = e;
        const open = readWhole !== undefined ? () => [readWhole()] : () => e.open();
        return { header: { ...this.owned(e), name, type: 'file', size: e.size }, open };
      }
    }
  }

  private time(t: number): number {
    const s = Math.floor(t);
    return this.clamp !== undefined && s > this.clamp ? this.clamp : s;
  }

  private owned(e: Exclude<LayerEntry, { kind: 'whiteout' | 'opaque' }>): Pick<TarHeader, 'mode' | 'uid' | 'gid' | 'mtime' | 'xattrs'> {
    const meta: Pick<TarHeader, 'mode' | 'uid' | 'gid' | 'mtime' | 'xattrs'> = {
      mode: e.mode & 0o7777,
      uid: e.uid,
      gid: e.gid,
      mtime: this.time(e.mtime),
    };
    if (e.xattrs !== undefined && Object.keys(e.xattrs).length > 0) meta.xattrs = e.xattrs;
    return meta;
  }
}
