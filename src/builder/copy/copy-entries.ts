import { posix } from 'node:path';
import { Readable } from 'node:stream';
import type { FilesCursor, StageFiles } from '../../../snapshot/stage-files.js';
import type { LayerEntry, Xattrs } from '../../../snapshot/layer-entry.js';
import { HoistError } from '../../errors.js';
import type { PatternMatcher } from '../../dockerfile/ignore/index.js';
import { applyChmod } from './chmod.js';
import type { Owner } from './owner.js';
import type { SourceFs, SourceNode, SpecialSourceNode } from './source-fs.js';
import type { ParentsMatch } from './parents-sources.js';
import type { SourceMatch } from './resolve-sources.js';
import { resolveInRoot, type RootWalk } from '../../../snapshot/root-path.js';
import type { ViewNode } from '../../../snapshot/fs-view.js';

/** A thing to place at the destination. */
export type CopyItem =
  /** A matched path from the context or a stage: a directory copies its contents. */
  | { kind: 'match'; fs: SourceFs; match: SourceMatch }
  /** A file that exists only in memory or in a temp file (heredoc, download). */
  | { kind: 'file'; name: string; node: Extract<SourceNode, { kind: 'file' }>; keepOwner: boolean }
  /** `COPY --parents`: paths below a pivot directory, each kept with its path under the destination. */
  | { kind: 'parents'; fs: SourceFs; match: ParentsMatch }
  /** Entries already laid out relative to a directory (an extracted archive). */
  | { kind: 'tree'; entries: LayerEntry[] };

export interface CopyLayout {
  what: 'COPY' | 'ADD';
  /** The destination as written (expanded); a trailing `/` makes it a directory. */
  dest: string;
  workdir: string;
  /** The stage's files, where the destination is looked up. */
  view: StageFiles;
  owner: Owner | undefined;
  chmod: string | undefined;
  excludes: PatternMatcher | undefined;
  createdMtime: number;
}

export class CopyError extends HoistError {}

/** How a directory COPY creates is made, where it differs from the default. */
interface MadeDir {
  mode?: number | undefined;
  owner?: Owner | undefined;
  mtime?: number | undefined;
}

const ROOT_OWNER: Owner = Object.freeze({ uid: 0, gid: 0 });

/**
 * A path of the destination while the layer is planned: what is planned
 * there, and where the stage's view is at the same path (so that the next
 * name is one lookup, not a walk from the root).
 */
interface PlannedNode {
  planned: LayerEntry | undefined;
  cursor: FilesCursor | undefined;
}

function plannedKind(n: PlannedNode): LayerEntry['kind'] | ViewNode['kind'] | undefined {
  return n.planned?.kind ?? n.cursor?.node.kind;
}

function isDirDest(dest: string): boolean {
  return dest.endsWith('/') || dest === '.' || dest.endsWith('/.');
}

function join(dir: string, name: string): string {
  if (name === '') return dir;
  return dir === '' ? name : `${dir}/${name}`;
}

/**
 * Lay out a COPY/ADD as layer entries, following BuildKit (fsutil's Copy
 * and prepareTargetDir): a trailing slash makes the destination a
 * directory, as does an existing directory; a directory source copies its
 * contents; several items need a directory; a directory COPY has to create
 * (the destination, missing parents) is made as MkdirAll makes it: 0755, or
 * the octal --chmod mode, owned by the --chown owner or root, whatever the
 * source directory's own metadata; an existing directory keeps its own mode
 * and owner; symlinks in the destination path, and in the path of each
 * extracted archive member, are followed inside the stage.
 */
export class CopyPlanner {
  private readonly out = new Map<string, LayerEntry>();
  private readonly destAbs: string;
  private readonly destRel: string;
  private readonly destIsDir: boolean;
  /** The destination was written with a trailing slash (or as `.`). */
  private readonly slashDest: boolean;
  /** The stage's view at the destination, looked up once. */
  private destCursor: { at: FilesCursor | undefined } | undefined;

  constructor(private readonly layout: CopyLayout, itemCount: number) {
    const dest = layout.dest;
    // BuildKit cleans the destination lexically (file backend cleanPath: filepath.Join("/", dest)) before
    // following symlinks in it: `/link/..` is `/`, not the parent of the link's target.
    this.destAbs = posix.normalize(dest.startsWith('/') ? dest : posix.join(layout.workdir, dest));
    const resolved = layout.view.resolve(this.destAbs, { followFinal: true });
    this.destRel = resolved.path;
    this.slashDest = isDirDest(dest);
    this.destIsDir = this.slashDest || resolved.node?.kind === 'dir';
    if (itemCount > 1 && !this.destIsDir) {
      throw new CopyError(
        'DEST_NOT_DIR',
        `${layout.what}: when using ${layout.what} with more than one source file, the destination must be a directory and end with a /`,
        { hint: `write the destination as ${dest}/` },
      );
    }
  }

  /** Mode of a directory COPY creates: BuildKit's MkdirAll takes the octal --chmod (permission bits only), else 0755. */
  private get createdDirMode(): number {
    const chmod = this.layout.chmod;
    return chmod !== undefined && /^[0-7]+$/.test(chmod) ? Number.parseInt(chmod, 8) & 0o777 : 0o755;
  }

  entries(): LayerEntry[] {
    return [...this.out.values()];
  }

  async add(item: CopyItem): Promise<void> {
    switch (item.kind) {
      case 'file': {
        const target = this.destIsDir ? join(this.destRel, item.name) : this.destRel;
        this.placeFile(target, item.node, item.keepOwner);
        return;
      }
      case 'tree':
        return this.addTree(item.entries);
      case 'parents':
        return this.addParents(item.fs, item.match);
      case 'match':
        return this.addMatch(item.fs, item.match);
    }
  }

  /**
   * An extracted archive, as BuildKit's unpack does it: the destination is
   * made like MkdirAll(dest, 0755, --chown owner); members are written as
   * if the destination were the root of a chroot, so a symlink already in
   * the stage on a member's way (var/run -> /run) is followed, and never
   * out of the destination; parents the archive only implies are 0755
   * root:root.
   */
  private addTree(entries: readonly LayerEntry[]): void {
    this.ensureDir(this.destRel, { mode: 0o755 });
    for (const entry of entries) {
      const path = this.inDestination(entry.path);
      if (path === undefined) continue;
      this.ensureParents(path, { mode: 0o755, owner: ROOT_OWNER });
      if (entry.kind === 'hardlink') {
        const target = this.inDestination(entry.target);
        if (target !== undefined) this.out.set(path, { ...entry, path, target });
      } else {
        this.out.set(path, { ...entry, path } as LayerEntry);
      }
    }
  }

  /** `rel` below the destination with the symlinks on its way resolved, chroot-like; undefined for the destination itself. */
  private inDestination(rel: string): string | undefined {
    const view = this.layout.view;
    const walk: RootWalk<PlannedNode | 'root'> = {
      root: 'root',
      child: (parent, name, path) => {
        const at = parent === 'root' ? { planned: undefined, cursor: (this.destCursor ??= { at: view.cursor(this.destRel) }).at } : parent;
        if (parent !== 'root' && plannedKind(parent) !== 'dir') return undefined;
        // Planned paths have planned parents (the destination is): below an unplanned one, nothing is planned.
        const planned = parent === 'root' || parent.planned !== undefined ? this.out.get(join(this.destRel, path)) : undefined;
        const cursor = at.cursor === undefined ? undefined : view.child(at.cursor, name);
        return planned === undefined && cursor === undefined ? undefined : { planned, cursor };
      },
      linkname: (node) => {
        if (node === 'root') return undefined;
        const n = node.planned ?? node.cursor?.node;
        return n?.kind === 'symlink' ? n.linkname : undefined;
      },
    };
    const resolved = resolveInRoot(walk, rel).path;
    return resolved === '' ? undefined : join(this.destRel, resolved);
  }

  /**
   * COPY --parents: BuildKit copies the pivot directory's contents through an
   * include filter, so the destination is made as MkdirAll makes it, and the
   * directories between it and each match are copies of the source's.
   */
  private async addParents(fs: SourceFs, parents: ParentsMatch): Promise<void> {
    this.ensureDir(this.destRel);
    for (const match of parents.matches) {
      const parts = match.rel.split('/');
      for (let i = 1; i < parts.length; i++) {
        const rel = parts.slice(0, i).join('/');
        const target = join(this.destRel, rel);
        if (this.out.has(target)) continue;
        const node = await fs.lstat(join(parents.root, rel));
        if (node?.kind === 'dir') this.placeDir(target, node, fs.keepsOwners);
        else this.ensureDir(target);
      }
      const target = join(this.destRel, match.rel);
      const node = match.node;
      if (node.kind === 'dir') {
        // The pivot itself (`COPY --parents ./ /dest/`) is the destination MkdirAll made.
        if (match.rel !== '') this.placeDir(target, node, fs.keepsOwners);
        await this.copyTree(fs, match.realRel, target, '');
      } else if (node.kind === 'file') {
        this.placeFile(target, node, fs.keepsOwners);
      } else if (node.kind === 'symlink') {
        this.placeSymlink(target, node, fs.keepsOwners);
      } else {
        this.placeSpecial(target, node, fs.keepsOwners);
      }
    }
  }

  private async addMatch(fs: SourceFs, match: SourceMatch): Promise<void> {
    const node = match.node;
    if (node.kind === 'dir') {
      // BuildKit: prepareTargetDir makes a missing destination with MkdirAll (0755 or the
      // octal --chmod, --chown owner or root) and only then copies the contents into it; the
      // directory takes the source's mtime (copyFileTimestamp), not its mode or owner.
      this.ensureDir(this.destRel, { mtime: this.slashDest || fs.isIgnored(match.realRel) ? undefined : node.mtime });
      await this.copyTree(fs, match.realRel, this.destRel, '');
      return;
    }
    const name = posix.basename(match.rel) || posix.basename(match.realRel);
    const target = this.destIsDir ? join(this.destRel, name) : this.destRel;
    if (node.kind === 'file') this.placeFile(target, node, fs.keepsOwners);
    else if (node.kind !== 'symlink') this.placeSpecial(target, node, fs.keepsOwners);
  }

  private async copyTree(fs: SourceFs, srcDir: string, destDir: string, relInSource: string): Promise<void> {
    for (const name of await fs.readdir(srcDir)) {
      const src = join(srcDir, name);
      const rel = join(relInSource, name);
      if (this.layout.excludes?.matchesOrParentMatches(rel)) continue;
      const ignored = fs.isIgnored(src);
      const node = await fs.lstat(src);
      if (node === undefined || (ignored && !(node.kind === 'dir' && fs.mayReinclude))) continue;
      const target = join(destDir, name);
      if (node.kind === 'dir') {
        if (!ignored) this.placeDir(target, node, fs.keepsOwners);
        const before = this.out.size;
        await this.copyTree(fs, src, target, rel);
        // An ignored directory appears only as the parent of something `!` re-included,
        // and then as a plain 0755 directory (as Docker and buildah make it), not as a copy.
        if (ignored && this.out.size > before) this.ensureDir(target);
      } else if (node.kind === 'file') {
        this.placeFile(target, node, fs.keepsOwners);
      } else if (node.kind === 'symlink') {
        this.placeSymlink(target, node, fs.keepsOwners);
      } else {
        this.placeSpecial(target, node, fs.keepsOwners);
      }
    }
  }

  /** A FIFO or device node: copied as it is (fsutil's copier and receiver make it with mknod). */
  private placeSpecial(target: string, node: SpecialSourceNode, keepOwner: boolean): void {
    if (target === '') throw new CopyError('DEST_IS_ROOT', `${this.layout.what}: cannot copy a ${node.kind} over the root directory`);
    if (this.planned(target)?.kind === 'dir') {
      throw new CopyError('DEST_IS_DIR', `${this.layout.what}: cannot copy to ${JSON.stringify('/' + target)}: it is an existing directory`, {
        hint: 'end the destination with / to copy into the directory',
      });
    }
    this.ensureParents(target);
    const meta = { path: target, mode: this.modeOf(node.mode, false), ...this.ownerOf(node, keepOwner), mtime: node.mtime, ...xattrsOf(node) };
    this.out.set(target, node.kind === 'fifo' ? { kind: 'fifo', ...meta } : { kind: node.kind, ...meta, devmajor: node.devmajor, devminor: node.devminor });
  }

  private placeSymlink(target: string, node: Extract<SourceNode, { kind: 'symlink' }>, keepOwner: boolean): void {
    if (this.planned(target)?.kind === 'dir') {
      // fsutil's copier: ensureEmptyFileTarget refuses every non-directory source over a directory.
      throw new CopyError('DEST_IS_DIR', `${this.layout.what}: cannot replace the directory ${JSON.stringify('/' + target)} with a symbolic link`, {
        hint: 'BuildKit refuses this too: remove the directory in an earlier step (RUN rm -r), or copy the link elsewhere',
      });
    }
    this.ensureParents(target);
    this.out.set(target, { kind: 'symlink', path: target, linkname: node.linkname, mode: 0o777, ...this.ownerOf(node, keepOwner), mtime: node.mtime, ...xattrsOf(node) });
  }

  private ownerOf(node: { uid: number; gid: number }, keep: boolean): { uid: number; gid: number } {
    if (this.layout.owner) return this.layout.owner;
    return keep ? { uid: node.uid, gid: node.gid } : { uid: 0, gid: 0 };
  }

  private modeOf(mode: number, isDir: boolean): number {
    return this.layout.chmod === undefined ? mode : applyChmod(this.layout.chmod, mode, isDir);
  }

  private placeFile(target: string, node: Extract<SourceNode, { kind: 'file' }>, keepOwner: boolean): void {
    if (target === '') throw new CopyError('DEST_IS_ROOT', `${this.layout.what}: cannot copy a file over the root directory`);
    const existing = this.layout.view.lstat(target);
    if (existing?.kind === 'dir') {
      throw new CopyError('DEST_IS_DIR', `${this.layout.what}: cannot copy to ${JSON.stringify('/' + target)}: it is an existing directory`, {
        hint: 'end the destination with / to copy into the directory',
      });
    }
    this.ensureParents(target);
    this.out.set(target, {
      kind: 'file', path: target, mode: this.modeOf(node.mode, false), ...this.ownerOf(node, keepOwner),
      mtime: node.mtime, size: node.size, open: node.open, ...(node.readWhole ? { readWhole: node.readWhole } : {}), ...(node.linkKey ? { linkKey: node.linkKey } : {}), ...xattrsOf(node),
    });
  }

  /**
   * A directory inside a copied tree: it takes the source's metadata, even
   * over an existing directory (as Docker and BuildKit do).
   */
  private placeDir(target: string, node: Extract<SourceNode, { kind: 'dir' }>, keepOwner: boolean): void {
    if (target === '') return;
    const existing = this.planned(target);
    if (existing !== undefined && existing.kind !== 'dir') {
      // fsutil's copyDirectoryOnly: "cannot copy to non-directory" (it lstats: a symlink is not followed).
      throw new CopyError('NOT_A_DIRECTORY', `${this.layout.what}: cannot copy a directory to ${JSON.stringify('/' + target)}: a ${existing.kind} is in the way`, {
        hint: 'BuildKit refuses this too: remove it in an earlier step (RUN rm), or copy the directory elsewhere',
      });
    }
    this.ensureParents(target);
    this.out.set(target, { kind: 'dir', path: target, mode: this.modeOf(node.mode, true), ...this.ownerOf(node, keepOwner), mtime: node.mtime, ...xattrsOf(node) });
  }

  /** What `path` is when this copy reaches it: planned by an earlier source of this COPY, else the stage's. */
  private planned(path: string): { kind: string } | undefined {
    return this.out.get(path) ?? this.layout.view.lstat(path);
  }

  private keepExisting(path: string, existing: ViewNode): void {
    if (this.out.has(path) || existing.kind !== 'dir') return;
    this.out.set(path, { kind: 'dir', path, mode: existing.mode, uid: existing.uid, gid: existing.gid, mtime: existing.mtime, ...xattrsOf(existing) });
  }

  /**
   * A directory COPY needs that no source describes: an existing one is
   * kept; a missing one is made as fsutil's MkdirAll makes it (the mode of
   * the copy, the --chown owner or root, the step's time).
   */
  private ensureDir(path: string, made: MadeDir = {}): void {
    if (path === '' || this.out.has(path)) return;
    this.ensureParents(path, made);
    this.makeDir(path, this.layout.view.lstat(path), made);
  }

  /** ensureDir of `path`, whose parents are planned, over `existing` (what the stage has there). */
  private makeDir(path: string, existing: ViewNode | undefined, made: MadeDir): void {
    if (existing !== undefined && existing.kind !== 'dir') {
      throw new CopyError('NOT_A_DIRECTORY', `${this.layout.what}: cannot create ${JSON.stringify('/' + path)}: a ${existing.kind} is in the way`);
    }
    if (existing) {
      this.keepExisting(path, existing);
      return;
    }
    const owner = made.owner ?? this.layout.owner ?? ROOT_OWNER;
    this.out.set(path, { kind: 'dir', path, mode: made.mode ?? this.createdDirMode, ...owner, mtime: made.mtime ?? this.layout.createdMtime });
  }

  /**
   * ensureDir of every ancestor of `path`, top down, in time linear in its
   * depth (an archive member may be tens of thousands of directories deep).
   * The ancestors of a planned path are always planned, so the work starts
   * below the deepest planned one, and the stage's view is walked along.
   */
  private ensureParents(path: string, made: MadeDir = {}): void {
    const ends: number[] = [];
    for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) ends.push(i);
    if (ends.length === 0 || this.out.has(path.slice(0, ends[ends.length - 1]))) return;
    let first = 0;
    while (first < ends.length && this.out.has(path.slice(0, ends[first]))) first++;
    const parents = { ...made, mtime: undefined };
    const view = this.layout.view;
    let cursor = first === 0 ? view.cursor('') : view.cursor(path.slice(0, ends[first - 1]));
    for (let k = first; k < ends.length; k++) {
      const start = k === 0 ? 0 : (ends[k - 1] as number) + 1;
      const end = ends[k] as number;
      cursor = cursor === undefined ? undefined : view.child(cursor, path.slice(start, end));
      this.makeDir(path.slice(0, end), cursor?.node, parents);
    }
  }
}

/** A heredoc or a small in-memory file as a file node. */
/** The source's extended attributes travel with the copy (fsutil's copier keeps them), owners and modes aside. */
function xattrsOf(node: { xattrs?: Xattrs | undefined }): { xattrs?: Xattrs } {
  return node.xattrs !== undefined && Object.keys(node.xattrs).length > 0 ? { xattrs: node.xattrs } : {};
}

export function memoryFile(content: Buffer, mode: number, mtime: number): Extract<SourceNode, { kind: 'file' }> {
  return { kind: 'file', mode, uid: 0, gid: 0, mtime, size: content.length, open: () => Readable.from([content]) };
}
