import { createReadStream, type Stats } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { FsView, ViewNode } from '../../../snapshot/fs-view.js';
import type { PatternMatcher } from '../../dockerfile/ignore/index.js';
import { isNotExist, unreadableContext } from '../context/errors.js';
import { compareGoStrings } from '../context/go-order.js';

/** One file-system object a COPY can read, whatever it comes from. */
export type SourceNode =
  | { kind: 'file'; mode: number; uid: number; gid: number; mtime: number; size: number; open(): Readable; linkKey?: string | undefined }
  | { kind: 'dir'; mode: number; uid: number; gid: number; mtime: number }
  | { kind: 'symlink'; mode: number; uid: number; gid: number; mtime: number; linkname: string }
  | { kind: 'other'; mode: number; uid: number; gid: number; mtime: number };

/**
 * Where COPY sources come from: the build context (a directory filtered by
 * .dockerignore) or another stage's filesystem view. Paths are relative to
 * the source root, '/'-separated, '' for the root.
 */
export interface SourceFs {
  /** For messages: `build context` or `stage "build"`. */
  readonly description: string;
  /** Whether COPY without --chown keeps the source's owners (stages) or uses 0:0 (context). */
  readonly keepsOwners: boolean;
  lstat(rel: string): Promise<SourceNode | undefined>;
  readdir(rel: string): Promise<string[]>;
  /** True if .dockerignore (or nothing) hides this path. */
  isIgnored(rel: string): boolean;
  /** Whether an ignored directory may still hold re-included paths (`!` exceptions). */
  readonly mayReinclude: boolean;
  /** Where a path is on disk, for sources that are real files (ADD reads archives from there). */
  absolutePath?: (rel: string) => string;
}

function nodeFromStats(abs: string, st: Stats, linkname?: string): SourceNode {
  const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000) };
  if (st.isFile()) {
    return {
      kind: 'file', ...base, size: st.size,
      open: () => createReadStream(abs),
      linkKey: st.nlink > 1 ? `${st.dev}:${st.ino}` : undefined,
    };
  }
  if (st.isDirectory()) return { kind: 'dir', ...base };
  if (st.isSymbolicLink()) return { kind: 'symlink', ...base, linkname: linkname ?? '' };
  return { kind: 'other', ...base };
}

/** The build context on disk. Never follows a symlink by itself. */
export class ContextFs implements SourceFs {
  readonly description = 'build context';
  readonly keepsOwners = false;
  readonly mayReinclude: boolean;

  constructor(
    private readonly root: string,
    private readonly ignore: PatternMatcher,
  ) {
    this.mayReinclude = ignore.hasExclusions;
  }

  // A context file hoist may not read is the user's to fix: a located CONTEXT_UNREADABLE, not an internal fault.
  async lstat(rel: string): Promise<SourceNode | undefined> {
    const abs = this.absolutePath(rel);
    let st: Stats;
    try {
      st = await lstat(abs);
    } catch (err) {
      if (isNotExist(err)) return undefined;
      throw unreadableContext(err);
    }
    return nodeFromStats(abs, st, st.isSymbolicLink() ? await readlink(abs).catch((err: unknown) => Promise.reject(unreadableContext(err))) : undefined);
  }

  async readdir(rel: string): Promise<string[]> {
    return (await readdir(this.absolutePath(rel)).catch((err: unknown) => Promise.reject(unreadableContext(err)))).sort(compareGoStrings);
  }

  isIgnored(rel: string): boolean {
    return rel !== '' && this.ignore.matchesOrParentMatches(rel);
  }

  absolutePath = (rel: string): string => (rel === '' ? this.root : path.join(this.root, ...rel.split('/')));
}

function nodeFromView(node: ViewNode): SourceNode {
  const base = { mode: node.mode, uid: node.uid, gid: node.gid, mtime: node.mtime };
  switch (node.kind) {
    case 'file':
      return { kind: 'file', ...base, size: node.size, open: () => node.open(), linkKey: node.linkKey };
    case 'dir':
      return { kind: 'dir', ...base };
    case 'symlink':
      return { kind: 'symlink', ...base, linkname: node.linkname };
    default:
      return { kind: 'other', ...base };
  }
}

/** Another stage's filesystem (COPY --from=stage). */
export class ViewFs implements SourceFs {
  readonly keepsOwners = true;
  readonly mayReinclude = false;

  constructor(
    private readonly view: FsView,
    readonly description: string,
  ) {}

  async lstat(rel: string): Promise<SourceNode | undefined> {
    const node = this.view.lstat(rel);
    return node ? nodeFromView(node) : undefined;
  }

  async readdir(rel: string): Promise<string[]> {
    return this.view.readdir(rel);
  }

  isIgnored(): boolean {
    return false;
  }
}
