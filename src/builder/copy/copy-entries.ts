import { posix } from 'node:path';
import { Readable } from 'node:stream';
import type { FsView } from '../../../snapshot/fs-view.js';
import type { LayerEntry } from '../../../snapshot/layer-entry.js';
import { HoistError } from '../../errors.js';
import type { PatternMatcher } from '../../dockerfile/ignore/index.js';
import { applyChmod } from './chmod.js';
import type { Owner } from './owner.js';
import type { SourceFs, SourceNode } from './source-fs.js';
import type { SourceMatch } from './resolve-sources.js';

/** A thing to place at the destination. */
export type CopyItem =
  /** A matched path from the context or a stage: a directory copies its contents. */
  | { kind: 'match'; fs: SourceFs; match: SourceMatch; parentsRel?: string | undefined }
  /** A file that exists only in memory or in a temp file (heredoc, download). */
  | { kind: 'file'; name: string; node: Extract<SourceNode, { kind: 'file' }>; keepOwner: boolean }
  /** Entries already laid out relative to a directory (an extracted archive). */
  | { kind: 'tree'; entries: LayerEntry[] };

export interface CopyLayout {
  what: 'COPY' | 'ADD';
  /** The destination as written (expanded); a trailing `/` makes it a directory. */
  dest: string;
  workdir: string;
  view: FsView;
  owner: Owner | undefined;
  chmod: string | undefined;
  excludes: PatternMatcher | undefined;
  createdMtime: number;
}

export class CopyError extends HoistError {}

function isDirDest(dest: string): boolean {
  return dest.endsWith('/') || dest === '.' || dest.endsWith('/.');
}

function join(dir: string, name: string): string {
  if (name === '') return dir;
  return dir === '' ? name : `${dir}/${name}`;
}

/**
 * Lay out a COPY/ADD as layer entries, following Docker: a trailing slash
 * makes the destination a directory, as does an existing directory; a
 * directory source copies its contents; several items need a directory;
 * missing parents are created; an existing directory keeps its own mode and
 * owner; symlinks in the destination path are followed inside the stage.
 */
export class CopyPlanner {
  private readonly out = new Map<string, LayerEntry>();
  private readonly destAbs: string;
  private readonly destRel: string;
  private readonly destIsDir: boolean;
  /** The destination was written with a trailing slash (or as `.`). */
  private readonly slashDest: boolean;

  constructor(private readonly layout: CopyLayout, itemCount: number) {
    const dest = layout.dest;
    this.destAbs = dest.startsWith('/') ? dest : posix.join(layout.workdir, dest);
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
        for (const entry of item.entries) {
          const path = join(this.destRel, entry.path);
          this.ensureParents(path);
          const rerooted = entry.kind === 'hardlink' ? { ...entry, path, target: join(this.destRel, entry.target) } : { ...entry, path };
          this.out.set(path, rerooted as LayerEntry);
        }
        this.ensureDir(this.destRel);
        return;
      case 'match':
        return this.addMatch(item.fs, item.match, item.parentsRel);
    }
  }

  private async addMatch(fs: SourceFs, match: SourceMatch, parentsRel: string | undefined): Promise<void> {
    const node = match.node;
    if (node.kind === 'dir') {
      const target = parentsRel !== undefined ? join(this.destRel, parentsRel) : this.destRel;
      if ((this.slashDest && parentsRel === undefined) || fs.isIgnored(match.realRel)) {
        // BuildKit: `COPY dir /dest/` first makes /dest (0755, --chown owner) and copies
        // only the contents into it; without the slash, /dest is made from `dir` itself.
        this.ensureDir(target);
      } else {
        this.placeDir(target, node, fs.keepsOwners, true);
      }
      await this.copyTree(fs, match.realRel, target, '');
      return;
    }
    const name = posix.basename(match.rel) || posix.basename(match.realRel);
    const target = parentsRel !== undefined ? join(this.destRel, parentsRel) : this.destIsDir ? join(this.destRel, name) : this.destRel;
    if (node.kind === 'file') this.placeFile(target, node, fs.keepsOwners);
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
        if (!ignored) this.placeDir(target, node, fs.keepsOwners, false);
        const before = this.out.size;
        await this.copyTree(fs, src, target, rel);
        // An ignored directory appears only as the parent of something `!` re-included,
        // and then as a plain 0755 directory (as Docker and buildah make it), not as a copy.
        if (ignored && this.out.size > before) this.ensureDir(target);
      } else if (node.kind === 'file') {
        this.placeFile(target, node, fs.keepsOwners);
      } else if (node.kind === 'symlink') {
        this.ensureParents(target);
        this.out.set(target, { kind: 'symlink', path: target, linkname: node.linkname, mode: 0o777, ...this.ownerOf(node, fs.keepsOwners), mtime: node.mtime });
      }
    }
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
      mtime: node.mtime, size: node.size, open: node.open, ...(node.linkKey ? { linkKey: node.linkKey } : {}),
    });
  }

  /**
   * A directory that a source directory maps onto. Inside a copied tree it
   * takes the source's metadata, even over an existing directory (as Docker
   * and BuildKit do); the destination itself keeps an existing directory's.
   */
  private placeDir(target: string, node: Extract<SourceNode, { kind: 'dir' }>, keepOwner: boolean, isDestination: boolean): void {
    if (target === '') return;
    this.ensureParents(target);
    const existing = this.layout.view.lstat(target);
    if (existing?.kind === 'dir' && isDestination) {
      this.keepExisting(target);
      return;
    }
    this.out.set(target, { kind: 'dir', path: target, mode: this.modeOf(node.mode, true), ...this.ownerOf(node, keepOwner), mtime: node.mtime });
  }

  private keepExisting(path: string): void {
    if (this.out.has(path)) return;
    const existing = this.layout.view.lstat(path);
    if (existing?.kind !== 'dir') return;
    this.out.set(path, { kind: 'dir', path, mode: existing.mode, uid: existing.uid, gid: existing.gid, mtime: existing.mtime });
  }

  /** A directory COPY needs that no source describes: existing, or created 0755. */
  private ensureDir(path: string): void {
    if (path === '' || this.out.has(path)) return;
    this.ensureParents(path);
    const existing = this.layout.view.lstat(path);
    if (existing !== undefined && existing.kind !== 'dir') {
      throw new CopyError('NOT_A_DIRECTORY', `${this.layout.what}: cannot create ${JSON.stringify('/' + path)}: a ${existing.kind} is in the way`);
    }
    if (existing) {
      this.keepExisting(path);
      return;
    }
    const owner = this.layout.owner ?? { uid: 0, gid: 0 };
    this.out.set(path, { kind: 'dir', path, mode: 0o755, ...owner, mtime: this.layout.createdMtime });
  }

  private ensureParents(path: string): void {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) this.ensureDir(parts.slice(0, i).join('/'));
  }
}

/** A heredoc or a small in-memory file as a file node. */
export function memoryFile(content: Buffer, mode: number, mtime: number): Extract<SourceNode, { kind: 'file' }> {
  return { kind: 'file', mode, uid: 0, gid: 0, mtime, size: content.length, open: () => Readable.from([content]) };
}
