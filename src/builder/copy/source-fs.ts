import { createReadStream, readFileSync, type BigIntStats } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { ViewNode } from '../../../snapshot/fs-view.js';
import type { StageFiles } from '../../../snapshot/stage-files.js';
import type { Xattrs } from '../../../snapshot/layer-entry.js';
import { readXattrsSync } from '../../../snapshot/xattrs.js';
import { splitDevice } from '../../../snapshot/dir-source.js';
import { PatternMatcher, goClean } from '../../dockerfile/ignore/index.js';
import { resolveContextRoot, statContextPath, walkContext, type ContextStat } from '../context/index.js';
import { unreadableContext } from '../context/errors.js';
import type { KnownXattrs, WalkedFile } from '../cache/file-digests.js';

interface SourceMeta {
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  /** The attributes a layer carries (snapshot/xattrs.ts), when there are any. */
  xattrs?: Xattrs | undefined;
}

/** One file-system object a COPY can read, whatever it comes from. */
export type SourceNode =
  | (SourceMeta & {
      kind: 'file';
      size: number;
      open(): Readable;
      /** A small file's whole content in one synchronous read (FileEntry.readWhole); absent where `open` is the only way. */
      readWhole?: (() => Buffer) | undefined;
      linkKey?: string | undefined;
    })
  | (SourceMeta & { kind: 'dir' })
  | (SourceMeta & { kind: 'symlink'; linkname: string })
  | (SourceMeta & { kind: 'fifo' })
  | (SourceMeta & { kind: 'char-device' | 'block-device'; devmajor: number; devminor: number });

/** A node COPY writes as it is, with no content: a FIFO or a device node. */
export type SpecialSourceNode = Extract<SourceNode, { kind: 'fifo' | 'char-device' | 'block-device' }>;

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

/** Xattrs a build already knows, recorded with context files' digests (FileDigests): the walk need not read them again. */
export interface XattrRecords {
  /** The xattrs recorded for the entry at `absPath` with this lstat; undefined when none are known. */
  recordedXattrs(absPath: string, stat: BigIntStats): KnownXattrs | undefined;
  /** Records what the walk read of a directory or symlink (a file's xattrs are recorded with its digest). */
  recordXattrs(absPath: string, walked: WalkedFile): void;
}

function nodeFromContext(abs: string, st: ContextStat, xattrs: Xattrs | undefined): SourceNode {
  const base: SourceMeta = { mode: st.mode, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000), ...(xattrs ? { xattrs } : {}) };
  switch (st.kind) {
    case 'file': {
      const readWhole = st.size <= SMALL_FILE ? () => readFileSync(abs) : undefined;
      return {
        kind: 'file', ...base, size: st.size,
        open: () => (readWhole !== undefined ? Readable.from(readWhenPulled(readWhole)) : createReadStream(abs, { highWaterMark: LARGE_FILE_READ })),
        readWhole,
        linkKey: st.nlink > 1 ? `${st.dev}:${st.ino}` : undefined,
      };
    }
    // BuildKit's context transfer sends no data for a socket and its receiver creates a regular file.
    case 'socket':
      return { kind: 'file', ...base, size: 0, open: () => Readable.from([]) };
    case 'dir':
      return { kind: 'dir', ...base };
    case 'symlink':
      return { kind: 'symlink', ...base, linkname: st.linkTarget ?? '' };
    // fsutil sends FIFOs and device nodes with their stat and no data, and its receiver makes them with mknod.
    case 'fifo':
      return { kind: 'fifo', ...base };
    default:
      return { kind: st.kind, ...base, ...splitDevice(BigInt(st.rdev)) };
  }
}

/**
 * Up to this size a context file is read with one synchronous call when the
 * layer writer reaches it: through fs.ReadStream, each of thousands of small
 * files cost four thread-pool round trips, one after the other, and a
 * 64 KiB buffer per read (bench/build-vs-buildah: COPY of 3,000 files).
 */
const SMALL_FILE = 64 * 1024;

/** Reads of a larger file: fs.ReadStream's 64 KiB default made a 64 MiB file 1,000 thread-pool round trips. */
const LARGE_FILE_READ = 1024 * 1024;

function* readWhenPulled(read: () => Buffer): Generator<Buffer, void, undefined> {
  yield read();
}

/** Synchronously, as the context walk stats (walk.ts): a call takes microseconds, a thread-pool round trip several times that. */
function readContextXattrs(abs: string): Xattrs | undefined {
  try {
    return readXattrsSync(abs);
  } catch (err) {
    throw unreadableContext(err);
  }
}

/** What one COPY/ADD sees of the context: one walk, kept as a tree of stats. */
interface ContextSnapshot {
  /** A moment (ns since the epoch) before the walk's first lstat. */
  readonly sinceNs: bigint;
  readonly root: { absPath: string; stat: ContextStat };
  readonly entries: ReadonlyMap<string, { absPath: string; stat: ContextStat }>;
  /** Each directory's names, in walk (Go byte) order. */
  readonly children: ReadonlyMap<string, string[]>;
}

async function snapshotContext(root: string, ignore: PatternMatcher, followPaths: readonly string[] | null): Promise<ContextSnapshot> {
  const sinceNs = BigInt(Date.now()) * 1_000_000n;
  const realRoot = await resolveContextRoot(root);
  const rootStat = await statContextPath(realRoot);
  if (rootStat === null) throw unreadableContext(new Error(`${root} vanished`));
  const entries = new Map<string, { absPath: string; stat: ContextStat }>();
  const children = new Map<string, string[]>();
  for await (const entry of walkContext(realRoot, { ignore, ...(followPaths ? { followPaths } : {}) })) {
    entries.set(entry.path, { absPath: entry.absPath, stat: entry });
    const slash = entry.path.lastIndexOf('/');
    const parent = slash < 0 ? '' : entry.path.slice(0, slash);
    const names = children.get(parent);
    if (names) names.push(entry.path.slice(slash + 1));
    else children.set(parent, [entry.path.slice(slash + 1)]);
  }
  return { sinceNs, root: { absPath: realRoot, stat: rootStat }, entries, children };
}

/**
 * BuildKit's FollowPaths for the sources of one COPY/ADD: each cleaned inside
 * the context; null (the whole context) when one names the root, or cannot
 * serve as an include pattern (then resolving it reports the problem).
 */
export function contextFollowPaths(sources: readonly string[]): string[] | null {
  const out: string[] = [];
  for (const source of sources) {
    const cleaned = goClean(`/${source}`).slice(1);
    if (cleaned === '' || cleaned.startsWith('!')) return null;
    try {
      PatternMatcher.compile([cleaned]);
    } catch {
      return null;
    }
    out.push(cleaned);
  }
  return out;
}

/**
 * The build context on disk, as walkContext reads it: what .dockerignore
 * excludes is absent (an excluded directory is not even opened unless a `!`
 * exception could reach below it), and with `followPaths` only those paths
 * (and the targets of symlinks on them) are read. Never follows a symlink
 * by itself.
 */
export class ContextFs implements SourceFs {
  readonly description = 'build context';
  readonly keepsOwners = false;
  readonly mayReinclude: boolean;
  private snapshot: Promise<ContextSnapshot> | undefined;
  /** Each entry's xattrs, read (or taken from the records) once however often it is looked up (a step's cache key and its layer both do). */
  private readonly xattrs = new Map<string, Xattrs | undefined>();

  /** The root as path.join starts a path below it, ending in '/'; undefined for a relative root (path.join would drop a leading './'). */
  private readonly rootPrefix: string | undefined;

  constructor(
    private readonly root: string,
    private readonly ignore: PatternMatcher,
    private readonly followPaths: readonly string[] | null = null,
  ) {
    this.mayReinclude = ignore.hasExclusions;
    const normalized = path.normalize(root);
    this.rootPrefix = path.isAbsolute(root) ? (normalized.endsWith('/') ? normalized : `${normalized}/`) : undefined;
  }

  private read(): Promise<ContextSnapshot> {
    this.snapshot ??= snapshotContext(this.root, this.ignore, this.followPaths);
    return this.snapshot;
  }

  async lstat(rel: string): Promise<SourceNode | undefined> {
    return (await this.lstatWalked(rel))?.node;
  }

  /**
   * lstat, and for a regular file what FileDigests takes from the walk:
   * where the file is (`absolutePath`), its lstat and its xattrs. The
   * xattrs of a file, directory or symlink come from `records` when they
   * hold for its lstat, else from disk (and a directory's or symlink's are
   * recorded then).
   */
  async lstatWalked(rel: string, records?: XattrRecords): Promise<{ node: SourceNode; file?: { absPath: string; walked: WalkedFile } } | undefined> {
    const snapshot = await this.read();
    const entry = rel === '' ? snapshot.root : snapshot.entries.get(rel);
    if (entry === undefined) return undefined;
    const st = entry.stat;
    // As fsutil's stat does for BuildKit's context transfer: the entry's own attributes, links included.
    if (st.kind !== 'file' && st.kind !== 'dir' && st.kind !== 'symlink') return { node: nodeFromContext(entry.absPath, st, undefined) };
    // Records are kept under the walk's path, from the context's real path: the same file has one record whatever the
    // context was called (`.`, a symlink), and a save finds the records of its context there (FileDigests.save).
    const absPath = entry.absPath;
    let xattrs: Xattrs | undefined;
    if (this.xattrs.has(entry.absPath)) xattrs = this.xattrs.get(entry.absPath);
    else {
      const known = records?.recordedXattrs(absPath, st.lstat);
      if (known !== undefined) xattrs = known.xattrs;
      else {
        xattrs = readContextXattrs(entry.absPath);
        if (st.kind !== 'file') records?.recordXattrs(absPath, { stat: st.lstat, sinceNs: snapshot.sinceNs, xattrs });
      }
      this.xattrs.set(entry.absPath, xattrs);
    }
    const node = nodeFromContext(entry.absPath, st, xattrs);
    return st.kind === 'file' ? { node, file: { absPath, walked: { stat: st.lstat, sinceNs: snapshot.sinceNs, xattrs } } } : { node };
  }

  async readdir(rel: string): Promise<string[]> {
    return [...((await this.read()).children.get(rel) ?? [])];
  }

  isIgnored(rel: string): boolean {
    return rel !== '' && this.ignore.matchesOrParentMatches(rel);
  }

  absolutePath = (rel: string): string => {
    if (rel === '') return this.root;
    // What path.join gives, without its normalizing pass (one per context file a step key lists): rel is clean when the walk made it.
    if (this.rootPrefix !== undefined && isCleanRel(rel)) return this.rootPrefix + rel;
    return path.join(this.root, ...rel.split('/'));
  };
}

/** A '/'-separated relative path path.join would leave as it is: no empty, '.' or '..' segment. */
function isCleanRel(rel: string): boolean {
  return !rel.startsWith('/') && !rel.endsWith('/') && !rel.includes('//') && !/(^|\/)\.\.?(\/|$)/.test(rel);
}

function nodeFromView(node: ViewNode): SourceNode {
  const base: SourceMeta = { mode: node.mode, uid: node.uid, gid: node.gid, mtime: node.mtime, ...(node.xattrs ? { xattrs: node.xattrs } : {}) };
  switch (node.kind) {
    case 'file':
      return { kind: 'file', ...base, size: node.size, open: () => node.open(), readWhole: node.readWhole, linkKey: node.linkKey };
    case 'dir':
      return { kind: 'dir', ...base };
    case 'symlink':
      return { kind: 'symlink', ...base, linkname: node.linkname };
    case 'fifo':
      return { kind: 'fifo', ...base };
    default:
      return { kind: node.kind, ...base, devmajor: node.devmajor, devminor: node.devminor };
  }
}

/** Another stage's filesystem (COPY --from=stage). */
export class ViewFs implements SourceFs {
  readonly keepsOwners = true;
  readonly mayReinclude = false;

  constructor(
    private readonly view: StageFiles,
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
