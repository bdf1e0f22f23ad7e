/**
 * A root filesystem on disk as a stage's files (snapshot/stage-files.ts):
 * each lookup is an lstat under the root, never following a symlink on
 * disk (a link inside the rootfs is resolved inside it, as in a chroot).
 * Owners come from `ownerOf`, which knows the owners the rootfs cannot
 * hold (an unprivileged unpack, a runner that fakes ids).
 */
import { createReadStream, lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { HoistError } from '../../src/errors.js';
import { fsError } from '../../src/fs-errors.js';
import type { Resolved, ResolveOptions, ViewNode } from '../fs-view.js';
import { MAX_READ_FILE } from '../fs-view.js';
import { cleanPath, resolveInRoot, type RootWalk } from '../root-path.js';
import type { FilesCursor, StageFiles } from '../stage-files.js';
import { readXattrsSync, type XattrValues } from '../xattrs.js';

export interface Owner {
  uid: number;
  gid: number;
}

class DiskCursor implements FilesCursor {
  constructor(
    /** Canonical path inside the root, '' for the root. */
    readonly path: string,
    readonly node: ViewNode,
  ) {}
}

const PERMS = 0o7777;

export class RootfsFiles implements StageFiles {
  constructor(
    readonly dir: string,
    private readonly ownerOf: (path: string, st: Stats) => Owner,
    /** The file's attributes in the image from those on disk (an unprivileged apply could not set them all). */
    private readonly xattrsOf: (path: string, st: Stats, onDisk: XattrValues | undefined) => XattrValues | undefined = (_p, _st, onDisk) => onDisk,
  ) {}

  /** The resolver's view of the tree, from the root as it is now. */
  private walker(): RootWalk<DiskCursor> {
    const root = this.at('');
    if (root === undefined) throw new Error(`the root filesystem ${this.dir} is gone`);
    return {
      root,
      child: (parent, name) => this.child(parent, name),
      linkname: (node) => (node.node.kind === 'symlink' ? node.node.linkname : undefined),
    };
  }

  private abs(path: string): string {
    return path === '' ? this.dir : `${this.dir}/${path}`;
  }

  /** The node at `path`, whose parent is known to be a real directory of the root (not a symlink). */
  private at(path: string): DiskCursor | undefined {
    const abs = this.abs(path);
    const st = lstatQuiet(abs);
    if (st === undefined) return undefined;
    const xattrs = st.isFile() || st.isDirectory() || st.isSymbolicLink() ? this.xattrsOf(path, st, readXattrsSync(abs)) : undefined;
    const base = { mode: st.mode & PERMS, ...this.ownerOf(path, st), mtime: Math.floor(st.mtimeMs / 1000), ...(xattrs ? { xattrs } : {}) };
    let node: ViewNode;
    if (st.isFile()) {
      node = { kind: 'file', ...base, size: st.size, open: () => createReadStream(abs), ...(st.nlink > 1 ? { linkKey: `${st.dev}:${st.ino}` } : {}) };
    } else if (st.isDirectory()) {
      node = { kind: 'dir', ...base };
    } else if (st.isSymbolicLink()) {
      node = { kind: 'symlink', ...base, linkname: readlinkSync(abs) };
    } else if (st.isCharacterDevice() || st.isBlockDevice()) {
      node = { kind: st.isCharacterDevice() ? 'char-device' : 'block-device', ...base, devmajor: Math.floor(st.rdev / 256) & 0xfff, devminor: (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00) };
    } else if (st.isFIFO()) {
      node = { kind: 'fifo', ...base };
    } else {
      // A socket a step left behind: a layer cannot hold it, and the walk leaves it out too.
      return undefined;
    }
    return new DiskCursor(path, Object.freeze(node));
  }

  lstat(path: string): ViewNode | undefined {
    return this.cursor(path)?.node;
  }

  /** One name at a time from the root: a symlink on the way is not followed (on disk it could lead out of the root). */
  cursor(path: string): DiskCursor | undefined {
    checkPath(path);
    let at = this.at('');
    for (const name of splitPath(cleanPath(path).path)) {
      if (at === undefined) return undefined;
      at = this.child(at, name);
    }
    return at;
  }

  child(at: FilesCursor, name: string): DiskCursor | undefined {
    const parent = at as DiskCursor;
    if (parent.node.kind !== 'dir' || name === '' || name === '.' || name === '..' || name.includes('/')) return undefined;
    return this.at(parent.path === '' ? name : `${parent.path}/${name}`);
  }

  resolve(path: string, opts: ResolveOptions = {}): Resolved {
    checkPath(path);
    const r = resolveInRoot(this.walker(), path, { followFinal: opts.followFinal ?? false });
    return { path: r.path, node: r.node?.node };
  }

  stat(path: string): ViewNode | undefined {
    return this.resolve(path, { followFinal: true }).node;
  }

  async readFile(path: string, opts: { maxBytes?: number } = {}): Promise<Buffer> {
    const max = opts.maxBytes ?? MAX_READ_FILE;
    const node = this.stat(path);
    if (node === undefined) throw new HoistError('NOT_FOUND', `${path} does not exist in the image`);
    if (node.kind !== 'file') throw new HoistError('NOT_A_FILE', `${path} is a ${node.kind}, not a regular file`);
    if (node.size > max) throw new HoistError('FILE_TOO_LARGE', `${path} is ${node.size} bytes; refusing to read more than ${max} into memory`);
    const chunks: Buffer[] = [];
    for await (const chunk of node.open()) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  readdir(path: string): string[] {
    const r = this.resolve(path, { followFinal: true });
    if (r.node === undefined) throw new HoistError('NOT_FOUND', `${path} does not exist in the image`);
    if (r.node.kind !== 'dir') throw new HoistError('NOT_A_DIRECTORY', `${path} is a ${r.node.kind}, not a directory`);
    const abs = this.abs(r.path);
    let names: string[];
    try {
      names = readdirSync(abs);
    } catch (err) {
      throw fsError(err, abs, 'list the root filesystem directory');
    }
    return names
      .map((name) => ({ name, key: Buffer.from(name, 'utf8') }))
      .sort((a, b) => Buffer.compare(a.key, b.key))
      .map((e) => e.name);
  }
}

function splitPath(path: string): string[] {
  return path === '' ? [] : path.split('/');
}

/** lstat, or undefined when nothing is there (ENOENT, or ENOTDIR: a parent is not a directory). */
function lstatQuiet(abs: string): Stats | undefined {
  try {
    return lstatSync(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw fsError(err, abs, 'read the root filesystem at');
  }
}

function checkPath(path: string): void {
  if (path.includes('\0')) throw new HoistError('INVALID_PATH', `path contains a NUL byte: ${JSON.stringify(path)}`);
}
