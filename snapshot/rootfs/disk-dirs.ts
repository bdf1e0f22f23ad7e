/**
 * The applier's view of the directories on disk: paths resolved inside the
 * root with the one resolver (root-path.ts), every component checked with
 * lstat, and the directories of the last resolved path kept so that the
 * next entry (most often in the same directory) costs one lstat, not one
 * per component. That is what keeps deep layers linear.
 */
import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import { HoistError } from '../../src/errors.js';
import { errnoOf } from '../../src/fs-errors.js';
import { resolveInRoot, type RootWalk } from '../root-path.js';

/** A directory, symlink or other node on disk, as the resolver sees it. */
export interface DiskNode {
  readonly name: string;
  readonly parent: DiskNode | undefined;
  readonly depth: number;
  /** Canonical path inside the root, '' for the root. */
  readonly path: string;
  readonly kind: 'dir' | 'symlink' | 'other';
  readonly linkname?: string;
  /** Permission bits as last seen or set. */
  mode: number;
}

export interface DiskDirsHost {
  /** The absolute path of `path` inside the root. */
  abs(path: string): string;
  /** Throws when `path` is too long to create. */
  checkLength(path: string): void;
  /** Called for every lstat the resolver makes. */
  counted(): void;
  /** Unprivileged: open `dir` up for the layer (a lookup in it was refused); false when it cannot help. */
  openUp(dir: DiskNode): boolean;
}

const PERMS = 0o7777;

export class DiskDirs {
  readonly root: DiskNode;
  /** The directories of the last resolved path: chain[i] is at depth i, all checked to be real directories. */
  private chain: DiskNode[];
  private readonly walk: RootWalk<DiskNode>;

  constructor(
    rootMode: number,
    private readonly host: DiskDirsHost,
  ) {
    this.root = { name: '', parent: undefined, depth: 0, path: '', kind: 'dir', mode: rootMode & PERMS };
    this.chain = [this.root];
    this.walk = {
      root: this.root,
      child: (parent, name, path) => this.child(parent, name, path),
      linkname: (node) => (node.kind === 'symlink' ? node.linkname : undefined),
    };
  }

  /** The cached directories, root first. */
  cached(): readonly DiskNode[] {
    return this.chain;
  }

  /**
   * The directory `path` names, parents resolved inside the root and a final
   * symlink followed. Missing directories are made by `make(parent, path)`
   * when it is given; otherwise the answer is undefined.
   */
  directory(path: string, make?: (parent: DiskNode, path: string) => void): DiskNode | undefined {
    const r = resolveInRoot(this.walk, path, { followFinal: true });
    if (r.node !== undefined) {
      if (r.node.kind !== 'dir') throw notADirectory(r.path);
      this.setChain(r.node);
      return r.node;
    }
    if (make === undefined) return undefined;
    this.host.checkLength(r.path);
    // Some components are missing: walk down the canonical path, creating them.
    let node = this.root;
    let sofar = '';
    for (const part of r.parts) {
      sofar = sofar === '' ? part : `${sofar}/${part}`;
      let next = this.child(node, part, sofar);
      if (next === undefined) {
        make(node, sofar);
        next = { name: part, parent: node, depth: node.depth + 1, path: sofar, kind: 'dir', mode: 0o755 };
      } else if (next.kind !== 'dir') {
        throw notADirectory(sofar);
      }
      this.enter(node, next);
      node = next;
    }
    return node;
  }

  /** A directory resolved without touching the cached chain; undefined when missing or not a directory. */
  resolveQuietly(path: string): DiskNode | undefined {
    const r = resolveInRoot(this.walk, path, { followFinal: true });
    return r.node?.kind === 'dir' ? r.node : undefined;
  }

  /** The directory `full` in `parent`, just made or merged: the cached node when there is one, and the next entries are likely inside it. */
  entered(parent: DiskNode, full: string, mode: number): DiskNode {
    const cached = this.chain[parent.depth + 1];
    const node: DiskNode =
      cached?.path === full ? cached : { name: full.slice(full.lastIndexOf('/') + 1), parent, depth: parent.depth + 1, path: full, kind: 'dir', mode };
    this.enter(parent, node);
    return node;
  }

  /** Keep only `dir` and its ancestors cached (its contents are being rewritten). */
  keepUpTo(dir: DiskNode): void {
    this.chain.length = dir.depth + 1;
  }

  /** Forget cached directories at `path` and below (it is being removed or replaced). */
  forget(path: string, depth: number): void {
    if (this.chain[depth]?.path === path) this.chain.length = depth;
  }

  private enter(parent: DiskNode, node: DiskNode): void {
    this.chain.length = parent.depth + 1;
    this.chain.push(node);
  }

  private setChain(node: DiskNode): void {
    const chain: DiskNode[] = [];
    for (let n: DiskNode | undefined = node; n !== undefined; n = n.parent) chain.push(n);
    this.chain = chain.reverse();
  }

  private child(parent: DiskNode, name: string, path: string): DiskNode | undefined {
    if (parent.kind !== 'dir') return undefined;
    const cached = this.chain[parent.depth + 1];
    if (cached !== undefined && cached.parent === parent && cached.name === name) return cached;
    return this.look(parent, name, path);
  }

  private look(parent: DiskNode, name: string, path: string): DiskNode | undefined {
    this.host.counted();
    const abs = this.host.abs(path);
    let st: Stats | undefined;
    try {
      st = lstatOrUndefined(abs);
    } catch (err) {
      // Unprivileged, a directory without search permission (mode 000) is opened up for this layer.
      if (errnoOf(err) !== 'EACCES' || !this.host.openUp(parent)) throw err;
      st = lstatOrUndefined(abs);
    }
    if (st === undefined) return undefined;
    const base = { name, parent, depth: parent.depth + 1, path, mode: st.mode & PERMS };
    if (st.isDirectory()) return { ...base, kind: 'dir' };
    if (st.isSymbolicLink()) return { ...base, kind: 'symlink', linkname: readlinkSync(abs) };
    return { ...base, kind: 'other' };
  }
}

export function notADirectory(path: string): HoistError {
  return new HoistError('PARENT_NOT_DIRECTORY', `${path} is not a directory in the root filesystem`, {
    hint: 'a layer writes below a path that a lower layer (or an earlier entry) made a file; the image is damaged',
  });
}

export function lstatOrUndefined(abs: string): Stats | undefined {
  try {
    return lstatSync(abs);
  } catch (err) {
    const errno = errnoOf(err);
    if (errno === 'ENOENT' || errno === 'ENOTDIR') return undefined;
    throw err;
  }
}
