/**
 * FsView: what a stack of layers contains, as metadata, without a rootfs.
 *
 * The build executor keeps one view per stage (COPY/ADD/WORKDIR on scratch
 * and multi-stage builds never touch a real filesystem). A view maps layer
 * paths to node metadata and, for regular files, a way to open the content.
 *
 * Applying a layer (`withLayer`) follows the OCI image-spec changeset rules
 * the way containerd's tar applier does:
 *
 * - Entries are applied in the order given. The parent of every entry is
 *   resolved through symlinks inside the root (containerd's `fs.RootPath`),
 *   so a layer that writes `lib/x` over a lower `lib -> usr/lib` lands in
 *   `usr/lib/x`. Missing parents are created as directories (0755, 0:0,
 *   mtime 0); a parent that exists and is not a directory is an error
 *   (PARENT_NOT_DIRECTORY).
 * - A directory entry over an existing directory only changes its metadata;
 *   any other entry replaces what was there, including a whole subtree.
 * - Whiteouts and opaque markers apply to lower layers only (image-spec:
 *   "files that are present in the same layer as a whiteout file can only be
 *   hidden by whiteout files in subsequent layers"), wherever they come in
 *   the layer: what this layer itself wrote survives them.
 * - A hard link becomes a node of its own (with the link entry's mode, owner
 *   and mtime) sharing the target's content and a common `linkKey`; the
 *   target gains that key if it had none. Keys are namespaced per layer
 *   (`e<n>:<key>` for a FileEntry's own key in the n-th layer, `h<n>:<path>`
 *   for a group started by a hard link) so keys of different layer sources
 *   never collide.
 *
 * Views are immutable: `withLayer` returns a new view that shares every
 * untouched directory with the old one (path copying), so a layer costs
 * time proportional to what it touches plus the size of the directories it
 * writes into. Nodes handed out are frozen.
 *
 * Path resolution (`resolve`) works like filepath-securejoin and BuildKit's
 * continuity `fs.RootPath`: `..` and absolute symlink targets are clamped at
 * the root, missing components are kept lexically (a later `..` can still
 * climb out of them), and more than 255 symlinks in one resolution is
 * SYMLINK_LOOP.
 */
import type { Readable } from 'node:stream';
import { HoistError } from '../src/errors.js';
import type { HardlinkEntry, LayerEntry, Xattrs } from './layer-entry.js';
import { normalizeLayerPath } from './layer-path.js';
import { cleanPath, MAX_SYMLINKS, resolveInRoot, type RootWalk } from './root-path.js';

interface NodeBase {
  /** Permission bits including setuid/setgid/sticky; no file-type bits. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Seconds since the epoch. */
  readonly mtime: number;
  readonly xattrs?: Xattrs;
  /** The `origin` of the entry that made the node, when it had one. */
  readonly origin?: unknown;
}

export interface ViewFile extends NodeBase {
  readonly kind: 'file';
  readonly size: number;
  /** Opens the content; may be called any number of times. */
  open(): Readable;
  /** A small file's whole content in one synchronous call (its entry's readWhole); may be called any number of times. */
  readonly readWhole?: () => Buffer;
  /** Nodes of one view that share a key are hard links to one inode. */
  readonly linkKey?: string;
}

export interface ViewDir extends NodeBase {
  readonly kind: 'dir';
}

export interface ViewSymlink extends NodeBase {
  readonly kind: 'symlink';
  readonly linkname: string;
}

export interface ViewDevice extends NodeBase {
  readonly kind: 'char-device' | 'block-device';
  readonly devmajor: number;
  readonly devminor: number;
}

export interface ViewFifo extends NodeBase {
  readonly kind: 'fifo';
}

export type ViewNode = ViewFile | ViewDir | ViewSymlink | ViewDevice | ViewFifo;

export interface ResolveOptions {
  /** Follow a symlink in the last component too (default false). */
  followFinal?: boolean;
}

export interface Resolved {
  /** Canonical layer path: no leading `/`, no `.`/`..`, `''` for the root. */
  path: string;
  /** The node at `path` (not followed if it is a final symlink and followFinal is off); undefined if absent. */
  node: ViewNode | undefined;
}

export interface WalkItem {
  /** Canonical layer path (`''` for the root). */
  path: string;
  node: ViewNode;
}

export { MAX_SYMLINKS };
/** Largest file `readFile` reads unless told otherwise. */
export const MAX_READ_FILE = 16 * 1024 * 1024;

const ROOT_META: ViewDir = Object.freeze({ kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0 });
const PERM_MASK = 0o7777;

/**
 * Go's `path.Clean` of an absolute container path, as a layer path:
 * `/a//b/./c/../d/` -> `a/b/d`, `/../..` -> `''`. A relative input is taken
 * as relative to the root. Purely lexical: symlinks are not looked at.
 */
export function cleanContainerPath(p: string): string {
  return cleanPath(p).path;
}

/** A directory of the tree. Only directories created or copied by the running `withLayer` are ever mutated. */
class DirNode {
  constructor(
    public meta: ViewDir,
    public readonly children: Map<string, TreeNode>,
  ) {}
}

type TreeNode = DirNode | Exclude<ViewNode, ViewDir>;

function metaOf(node: TreeNode): ViewNode {
  return node instanceof DirNode ? node.meta : node;
}

function checkPath(path: string): void {
  if (path.includes('\0')) throw new HoistError('INVALID_PATH', `path contains a NUL byte: ${JSON.stringify(path)}`);
}

/** Entry names in byte order of their UTF-8 form, as the tar writer orders them. */
function sortedNames(dir: DirNode): string[] {
  return [...dir.children.keys()]
    .map((name) => ({ name, key: Buffer.from(name, 'utf8') }))
    .sort((a, b) => Buffer.compare(a.key, b.key))
    .map((e) => e.name);
}

/** Exact lookup of a cleaned layer path; no symlink is followed. */
function lookupExact(root: DirNode, parts: readonly string[]): TreeNode | undefined {
  let cur: TreeNode = root;
  for (const part of parts) {
    if (!(cur instanceof DirNode)) return undefined;
    const next: TreeNode | undefined = cur.children.get(part);
    if (next === undefined) return undefined;
    cur = next;
  }
  return cur;
}

interface ResolvedParts {
  path: string;
  parts: string[];
  node: TreeNode | undefined;
}

function treeWalk(root: DirNode): RootWalk<TreeNode> {
  return {
    root,
    child: (parent, name) => (parent instanceof DirNode ? parent.children.get(name) : undefined),
    linkname: (node) => {
      if (node instanceof DirNode || node.kind !== 'symlink') return undefined;
      checkPath(node.linkname);
      return node.linkname;
    },
  };
}

/** The securejoin walk over `root` (see root-path.ts). */
function resolveIn(root: DirNode, path: string, followFinal: boolean): ResolvedParts {
  checkPath(path);
  return resolveInRoot(treeWalk(root), path, { followFinal });
}

/** The path of an entry: a normalised layer path, or `''` for the layer root (`.`, `./`). */
function entryPath(raw: string): string {
  // Only `.` and `/`, without `..` or a leading `/`: every component is empty or `.`.
  if (/^[./]*$/.test(raw) && !raw.startsWith('/') && !raw.includes('..')) return '';
  return normalizeLayerPath(raw);
}

function splitParts(path: string): string[] {
  return path === '' ? [] : path.split('/');
}

function ownerOf(e: { mode: number; uid: number; gid: number; mtime: number; xattrs?: Xattrs; origin?: unknown }): NodeBase {
  const base: { mode: number; uid: number; gid: number; mtime: number; xattrs?: Xattrs; origin?: unknown } = {
    mode: e.mode & PERM_MASK,
    uid: e.uid,
    gid: e.gid,
    mtime: Math.trunc(e.mtime),
  };
  if (e.xattrs !== undefined) base.xattrs = Object.freeze({ ...e.xattrs });
  if (e.origin !== undefined) base.origin = e.origin;
  return base;
}

/** One `withLayer` in progress: a mutable copy of the touched part of the tree. */
class LayerApply {
  readonly root: DirNode;
  /** Directories copied or created by this application: safe to mutate. */
  private readonly owned = new Set<DirNode>();
  /** Nodes this layer wrote (entries, and the link targets it re-keyed). */
  private readonly fresh = new Set<TreeNode>();
  /** Directories with something this layer wrote below them. */
  private readonly carriers = new Set<DirNode>();
  /** Entry linkKey -> view linkKey. */
  private readonly keys = new Map<string, string>();
  /**
   * Directories this application wrote, by canonical path, so that an entry
   * whose parent is one of them (the next member of a deep tree) is placed
   * without resolving its path again: what keeps a layer linear in its
   * depth. Forgotten whenever something is replaced or removed, as that may
   * change what a path resolves to.
   */
  private readonly dirs = new Map<string, DirNode>();

  constructor(
    base: DirNode,
    private readonly layer: number,
  ) {
    this.root = this.own(base);
  }

  private own(dir: DirNode): DirNode {
    if (this.owned.has(dir)) return dir;
    const copy = new DirNode(dir.meta, new Map(dir.children));
    this.owned.add(copy);
    if (this.fresh.has(dir)) this.fresh.add(copy);
    if (this.carriers.has(dir)) this.carriers.add(copy);
    return copy;
  }

  /**
   * The mutable directory at canonical `parts`. With `create`, missing
   * components become directories and every directory on the way is marked
   * as holding something of this layer.
   */
  private dirAt(parts: readonly string[], create: boolean, forPath: string): DirNode {
    let cur = this.root;
    if (create) this.carriers.add(cur);
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as string;
      const child = cur.children.get(part);
      let next: DirNode;
      if (child === undefined) {
        if (!create) throw new Error(`fs-view: ${parts.slice(0, i + 1).join('/')} vanished`);
        next = new DirNode(ROOT_META, new Map());
        this.owned.add(next);
      } else if (child instanceof DirNode) {
        next = this.own(child);
      } else {
        throw new HoistError(
          'PARENT_NOT_DIRECTORY',
          `cannot apply layer entry ${forPath}: ${parts.slice(0, i + 1).join('/')} is a ${child.kind}, not a directory`,
        );
      }
      if (next !== child) cur.children.set(part, next);
      if (create) this.carriers.add(next);
      cur = next;
    }
    return cur;
  }

  apply(entry: LayerEntry): void {
    switch (entry.kind) {
      case 'whiteout':
        this.whiteout(entryPath(entry.path), entry.path);
        return;
      case 'opaque':
        this.opaque(entryPath(entry.path));
        return;
      default:
        break;
    }
    const path = entryPath(entry.path);
    if (path === '') {
      if (entry.kind !== 'dir') {
        throw new HoistError('INVALID_PATH', `a ${entry.kind} entry names the layer root (${JSON.stringify(entry.path)})`);
      }
      this.root.meta = Object.freeze({ kind: 'dir', ...ownerOf(entry) });
      this.fresh.add(this.root);
      return;
    }
    const slash = path.lastIndexOf('/');
    const name = path.slice(slash + 1);
    const rawParent = slash === -1 ? '' : path.slice(0, slash);
    const known = this.dirs.get(rawParent);
    const resolved = known === undefined ? resolveIn(this.root, rawParent, true) : undefined;

    let node: TreeNode;
    switch (entry.kind) {
      case 'dir':
        node = new DirNode(Object.freeze({ kind: 'dir', ...ownerOf(entry) }), new Map());
        break;
      case 'file': {
        const file: { -readonly [K in keyof ViewFile]: ViewFile[K] } = {
          kind: 'file',
          ...ownerOf(entry),
          size: entry.size,
          open: entry.open,
        };
        if (entry.readWhole !== undefined) file.readWhole = entry.readWhole;
        if (entry.linkKey !== undefined) file.linkKey = this.viewKey(entry.linkKey);
        node = Object.freeze(file);
        break;
      }
      case 'symlink':
        node = Object.freeze({ kind: 'symlink', ...ownerOf(entry), linkname: entry.linkname });
        break;
      case 'char-device':
      case 'block-device':
        node = Object.freeze({ kind: entry.kind, ...ownerOf(entry), devmajor: entry.devmajor, devminor: entry.devminor });
        break;
      case 'fifo':
        node = Object.freeze({ kind: 'fifo', ...ownerOf(entry) });
        break;
      case 'hardlink':
        node = this.hardlink(entry, path);
        break;
    }

    const parent = known ?? this.dirAt((resolved as ResolvedParts).parts, true, path);
    const parentPath = known === undefined ? (resolved as ResolvedParts).path : rawParent;
    const childPath = parentPath === '' ? name : `${parentPath}/${name}`;
    const existing = parent.children.get(name);
    if (node instanceof DirNode && existing instanceof DirNode) {
      // A directory over a directory keeps its contents.
      const dir = this.own(existing);
      dir.meta = node.meta;
      parent.children.set(name, dir);
      this.fresh.add(dir);
      this.carriers.add(dir);
      this.dirs.set(childPath, dir);
      return;
    }
    if (existing !== undefined) this.dirs.clear();
    if (node instanceof DirNode) {
      this.owned.add(node);
      this.carriers.add(node);
      this.dirs.set(childPath, node);
    }
    parent.children.set(name, node);
    this.fresh.add(node);
  }

  private viewKey(key: string): string {
    let k = this.keys.get(key);
    if (k === undefined) {
      k = `e${this.layer}:${key}`;
      this.keys.set(key, k);
    }
    return k;
  }

  private hardlink(entry: HardlinkEntry, path: string): TreeNode {
    const target = resolveIn(this.root, entry.target, false);
    const targetPath = target.parts.join('/');
    const t = target.node;
    if (t === undefined) {
      throw new HoistError('INVALID_HARDLINK', `${path}: hard link target ${entry.target} does not exist`);
    }
    if (t instanceof DirNode) {
      throw new HoistError('INVALID_HARDLINK', `${path}: hard link target ${entry.target} is a directory`);
    }
    const owner = ownerOf(entry);
    if (t.kind !== 'file') {
      // Rare (a hard link to a symlink, device or fifo): same kind and payload, the link's own metadata.
      return Object.freeze({ ...t, ...owner, xattrs: owner.xattrs, origin: owner.origin });
    }
    let key = t.linkKey;
    if (key === undefined) {
      key = `h${this.layer}:${targetPath}`;
      const keyed: ViewFile = Object.freeze({ ...t, linkKey: key });
      const parts = target.parts.slice();
      const name = parts.pop() as string;
      const dir = this.dirAt(parts, false, path);
      dir.children.set(name, keyed);
      if (this.fresh.has(t)) this.fresh.add(keyed);
    }
    const link: { -readonly [K in keyof ViewFile]: ViewFile[K] } = {
      kind: 'file',
      ...owner,
      size: t.size,
      open: t.open,
      linkKey: key,
    };
    if (t.readWhole !== undefined) link.readWhole = t.readWhole;
    return Object.freeze(link);
  }

  private whiteout(path: string, raw: string): void {
    if (path === '') throw new HoistError('INVALID_PATH', `a whiteout names the layer root (${JSON.stringify(raw)})`);
    this.dirs.clear();
    const parts = splitParts(path);
    const name = parts.pop() as string;
    const parent = resolveIn(this.root, parts.join('/'), true);
    if (!(parent.node instanceof DirNode)) return;
    const victim = parent.node.children.get(name);
    if (victim === undefined || this.fresh.has(victim)) return;
    const dir = this.dirAt(parent.parts, false, path);
    if (victim instanceof DirNode && this.carriers.has(victim)) {
      // Lower content goes; what this layer put below it stays.
      this.prune(this.own(victim));
      return;
    }
    dir.children.delete(name);
  }

  private opaque(path: string): void {
    this.dirs.clear();
    const target = resolveIn(this.root, path, true);
    if (!(target.node instanceof DirNode)) return;
    this.prune(this.dirAt(target.parts, false, path));
  }

  /** Remove everything below `dir` that this layer did not write. */
  private prune(dir: DirNode): void {
    for (const [name, child] of [...dir.children]) {
      if (child instanceof DirNode && (this.fresh.has(child) || this.carriers.has(child))) {
        const own = this.own(child);
        if (own !== child) dir.children.set(name, own);
        this.prune(own);
      } else if (!this.fresh.has(child)) {
        dir.children.delete(name);
      }
    }
  }
}

/**
 * A position in a view, for walking it one name at a time without looking
 * every path up from the root (FsView.cursor, FsView.child).
 */
export class ViewCursor {
  /** @internal */
  constructor(readonly tree: TreeNode) {}

  /** Metadata of the node here. */
  get node(): ViewNode {
    return metaOf(this.tree);
  }
}

export class FsView {
  readonly #root: DirNode;
  readonly #layers: number;

  private constructor(root: DirNode, layers: number) {
    this.#root = root;
    this.#layers = layers;
  }

  static empty(): FsView {
    return new FsView(new DirNode(ROOT_META, new Map()), 0);
  }

  /** How many layers were applied to reach this view. */
  get layerCount(): number {
    return this.#layers;
  }

  /**
   * A new view: this one plus one layer, applied in order. `this` is not
   * changed. Throws UNSAFE_PATH (an entry path with `..` or a leading `/`),
   * INVALID_PATH, PARENT_NOT_DIRECTORY, INVALID_HARDLINK.
   */
  withLayer(entries: Iterable<LayerEntry>): FsView {
    const layer = this.#layers + 1;
    const tx = new LayerApply(this.#root, layer);
    for (const entry of entries) tx.apply(entry);
    return new FsView(tx.root, layer);
  }

  /** Metadata of exactly this path (no symlink followed, not even in parents); `''` or `/` is the root. */
  lstat(path: string): ViewNode | undefined {
    checkPath(path);
    const node = lookupExact(this.#root, splitParts(cleanContainerPath(path)));
    return node === undefined ? undefined : metaOf(node);
  }

  /** A cursor at exactly this path (as `lstat`); undefined when nothing is there. */
  cursor(path: string): ViewCursor | undefined {
    checkPath(path);
    const node = lookupExact(this.#root, splitParts(cleanContainerPath(path)));
    return node === undefined ? undefined : new ViewCursor(node);
  }

  /** The entry `name` of the directory at `at` (no symlink followed); undefined if absent or `at` is not a directory. */
  child(at: ViewCursor, name: string): ViewCursor | undefined {
    const node = at.tree instanceof DirNode ? at.tree.children.get(name) : undefined;
    return node === undefined ? undefined : new ViewCursor(node);
  }

  /**
   * Resolve a container path to its canonical layer path, following symlinks
   * in every component but the last (and the last too with followFinal),
   * never leaving the root. Throws SYMLINK_LOOP.
   */
  resolve(path: string, opts: ResolveOptions = {}): Resolved {
    const r = resolveIn(this.#root, path, opts.followFinal ?? false);
    return { path: r.parts.join('/'), node: r.node === undefined ? undefined : metaOf(r.node) };
  }

  /** `resolve(path, { followFinal: true }).node`. */
  stat(path: string): ViewNode | undefined {
    return this.resolve(path, { followFinal: true }).node;
  }

  /** Whether `path` (followed) exists and is a directory. */
  isDir(path: string): boolean {
    return this.stat(path)?.kind === 'dir';
  }

  /**
   * The whole content of a regular file, following symlinks. Throws
   * NOT_FOUND, NOT_A_FILE, FILE_TOO_LARGE (over `maxBytes`, default 16 MiB)
   * and SIZE_MISMATCH (the content is not `size` bytes long).
   */
  async readFile(path: string, opts: { maxBytes?: number } = {}): Promise<Buffer> {
    const max = opts.maxBytes ?? MAX_READ_FILE;
    const node = this.stat(path);
    if (node === undefined) throw new HoistError('NOT_FOUND', `${path} does not exist in the image`);
    if (node.kind !== 'file') throw new HoistError('NOT_A_FILE', `${path} is a ${node.kind}, not a regular file`);
    if (node.size > max) {
      throw new HoistError('FILE_TOO_LARGE', `${path} is ${node.size} bytes; refusing to read more than ${max} into memory`);
    }
    const stream = node.open();
    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for await (const chunk of stream) {
        const buf = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array);
        total += buf.length;
        if (total > node.size) break;
        chunks.push(buf);
      }
    } finally {
      stream.destroy();
    }
    if (total !== node.size) {
      throw new HoistError('SIZE_MISMATCH', `${path}: content is ${total > node.size ? 'longer' : 'shorter'} than its size of ${node.size} bytes`);
    }
    return Buffer.concat(chunks, total);
  }

  /** Names of the entries of a directory (symlinks followed), sorted by byte order. Throws NOT_FOUND, NOT_A_DIRECTORY. */
  readdir(path: string): string[] {
    const r = resolveIn(this.#root, path, true);
    if (r.node === undefined) throw new HoistError('NOT_FOUND', `${path} does not exist in the image`);
    if (!(r.node instanceof DirNode)) throw new HoistError('NOT_A_DIRECTORY', `${path} is a ${r.node.kind}, not a directory`);
    return sortedNames(r.node);
  }

  /**
   * Depth first, each directory in byte order, the subtree at `path`
   * (looked up exactly, as `lstat`: pass a canonical path from `resolve`),
   * itself included. A non-directory yields just itself. Throws NOT_FOUND
   * eagerly, when called.
   */
  walk(path: string): Iterable<WalkItem> {
    checkPath(path);
    const start = cleanContainerPath(path);
    const node = lookupExact(this.#root, splitParts(start));
    if (node === undefined) throw new HoistError('NOT_FOUND', `${path} does not exist in the image`);
    return walkFrom(start, node);
  }
}

function* walkFrom(start: string, node: TreeNode): Generator<WalkItem, void, undefined> {
  const stack: [string, TreeNode][] = [[start, node]];
  while (stack.length > 0) {
    const [path, cur] = stack.pop() as [string, TreeNode];
    yield { path, node: metaOf(cur) };
    if (cur instanceof DirNode) {
      const names = sortedNames(cur);
      for (let i = names.length - 1; i >= 0; i--) {
        const name = names[i] as string;
        stack.push([path === '' ? name : `${path}/${name}`, cur.children.get(name) as TreeNode]);
      }
    }
  }
}
