/**
 * The one way hoist reads the build context (COPY/ADD through ContextFs, and
 * whatever hashes the context): tonistiigi/fsutil's Walk with a FilterOpt,
 * which is what BuildKit uses to send the context. Entries come in Go
 * filepath.WalkDir order (names sorted bytewise, a directory before its
 * contents), each with its lstat metadata. Symlinks are reported, never
 * followed, so nothing outside the root is ever read.
 *
 * Filtering, as fsutil does it:
 * - an entry is kept when it matches the include patterns (if any) and is
 *   not excluded by the ignore matcher (.dockerignore);
 * - a directory that is not kept is still walked when something below it
 *   could be kept, and it is then reported just before its first kept entry;
 * - it is pruned outright when no pattern could reach below it (only decided
 *   when the relevant patterns are plain paths, as fsutil does);
 * - an unreadable directory is an error, unless it is filtered out anyway.
 *
 * The lstat of each entry is synchronous, as in the rootfs walks
 * (snapshot/walk/scope.ts): a thread-pool round trip per lstat costs
 * several times the syscall, and the walk hands the event loop a turn every
 * few milliseconds instead. A directory is read with one round trip.
 */
import type { BigIntStats, Dirent } from 'node:fs';
import { lstatSync, readlinkSync } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { NO_PARENT_MATCH_INFO, PatternMatcher, goFilepathMatch, type MatchInfo } from '../../dockerfile/ignore/index.js';
import { BuildContextError, isNotExist, isPermissionDenied, unreadableContext } from './errors.js';
import { dedupePaths, followLinks } from './follow-links.js';
import { compareGoStrings } from './go-order.js';
import { Slicer } from '../../../snapshot/walk/scope.js';

export type ContextEntryKind = 'file' | 'dir' | 'symlink' | 'socket' | 'fifo' | 'char-device' | 'block-device';

/** What lstat says of an entry: a symlink is described, not its target. */
export interface ContextStat {
  kind: ContextEntryKind;
  /** Permission bits with setuid, setgid and sticky (st_mode & 0o7777); the type is `kind`. */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeMs: number;
  dev: number;
  ino: number;
  nlink: number;
  /** The device number a device node stands for (st_rdev); 0 for other kinds. */
  rdev: number;
  /** The link's target as stored, for symlinks only. */
  linkTarget?: string;
  /** The lstat itself, in nanoseconds: what FileDigests compares its records with (ctime included). */
  lstat: BigIntStats;
}

export interface ContextEntry extends ContextStat {
  /** Relative to the context root, '/'-separated. */
  path: string;
  absPath: string;
}

/** fsutil's FilterOpt (without its Map callback). */
export interface WalkOptions {
  /** Keep only what these match (with `!` exceptions). */
  includePatterns?: readonly string[];
  /** Drop what this matches: the .dockerignore patterns. */
  ignore?: PatternMatcher;
  /** Symlinks whose targets are kept too (added to the include patterns). */
  followPaths?: readonly string[];
}

interface Filter {
  readonly include: PatternMatcher | null;
  readonly exclude: PatternMatcher | null;
  /** All include patterns are plain paths, so a directory off their prefixes can be pruned. */
  readonly onlyPrefixIncludes: boolean;
  /** All `!` exceptions are plain paths, so an excluded directory off their prefixes can be pruned. */
  readonly onlyPrefixExcludeExceptions: boolean;
}

interface VisitedDir {
  readonly path: string;
  readonly absPath: string;
  readonly includeInfo: MatchInfo;
  readonly excludeInfo: MatchInfo;
  /** Reported already (kept itself, or reported as the parent of a kept entry). */
  reported: boolean;
}

interface Frame {
  readonly dir: VisitedDir | null;
  readonly children: Dirent[];
  next: number;
}

type Decision = 'prune' | { skip: boolean; includeInfo: MatchInfo; excludeInfo: MatchInfo };

const PATTERN_CHARS = /[*[\]?^\\]/;

function patternWithoutTrailingGlob(text: string): string {
  let p = text;
  if (p.endsWith('/**')) p = p.slice(0, -3);
  if (p.endsWith('/*')) p = p.slice(0, -2);
  return p;
}

async function buildFilter(root: string, opts: WalkOptions): Promise<Filter> {
  let includes: string[] | null = opts.includePatterns ? [...opts.includePatterns] : null;
  if (opts.followPaths) {
    const targets = await followLinks(root, opts.followPaths);
    if (targets !== null) includes = dedupePaths([...(includes ?? []), ...targets]);
  }
  const include = includes && includes.length > 0 ? PatternMatcher.compile(includes) : null;
  const exclude = opts.ignore && opts.ignore.patterns.length > 0 ? opts.ignore : null;
  const plain = (m: PatternMatcher | null, exclusion: boolean): boolean =>
    !m?.patterns.some((p) => p.exclusion === exclusion && PATTERN_CHARS.test(patternWithoutTrailingGlob(p.text)));
  return {
    include,
    exclude,
    onlyPrefixIncludes: plain(include, false),
    onlyPrefixExcludeExceptions: plain(exclude, true),
  };
}

/**
 * path.join(dir, name) for a clean absolute `dir` (the real root and what is
 * joined to it) and a directory entry's name (never '.', '..' or with a
 * '/'), without path.join's normalizing pass: one per context entry.
 */
function childPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/** Could a pattern of this kind name something below `dir`? */
function reachesBelow(m: PatternMatcher, dir: string, exclusion: boolean): boolean {
  const dirSlash = `${dir}/`;
  return m.patterns.some((p) => p.exclusion === exclusion && `${patternWithoutTrailingGlob(p.text)}/`.startsWith(dirSlash));
}

/**
 * Could an include pattern with wildcards name something below `dir`? Each
 * of the pattern's leading segments must match the directory's segment at
 * that depth. Beyond fsutil, which walks every directory once one include
 * pattern has a wildcard (`COPY package*.json ./` would open all of
 * node_modules); the entries reported are the same. Patterns with `**`,
 * classes or escapes are not taken apart.
 */
function wildcardReachesBelow(m: PatternMatcher, dir: string): boolean {
  const dirParts = dir.split('/');
  return m.patterns.some((p) => {
    if (p.exclusion) return false;
    if (/\*\*|[[\\]/.test(p.text)) return true;
    const parts = p.text.split('/');
    if (parts.length <= dirParts.length) return false;
    return dirParts.every((name, i) => goFilepathMatch(parts[i] as string, name) === true);
  });
}

function decide(filter: Filter, rel: string, isDir: boolean, parent: VisitedDir | null): Decision {
  let skip = false;
  let includeInfo = NO_PARENT_MATCH_INFO;
  let excludeInfo = NO_PARENT_MATCH_INFO;
  if (filter.include) {
    const r = filter.include.matchesUsingParentResults(rel, parent?.includeInfo ?? NO_PARENT_MATCH_INFO);
    includeInfo = r.info;
    // For the include matcher, "excluded" means "matched": the entry is wanted.
    if (!r.excluded) {
      if (isDir) {
        const below = filter.onlyPrefixIncludes ? reachesBelow(filter.include, rel, false) : wildcardReachesBelow(filter.include, rel);
        if (!below) return 'prune';
      }
      skip = true;
    }
  }
  if (filter.exclude) {
    const r = filter.exclude.matchesUsingParentResults(rel, parent?.excludeInfo ?? NO_PARENT_MATCH_INFO);
    excludeInfo = r.info;
    if (r.excluded) {
      if (isDir && filter.onlyPrefixExcludeExceptions) {
        if (!filter.exclude.hasExclusions || !reachesBelow(filter.exclude, rel, true)) return 'prune';
      }
      skip = true;
    }
  }
  return { skip, includeInfo, excludeInfo };
}

/** The context directory with symlinks resolved; a missing root or a file is a BuildContextError. */
export async function resolveContextRoot(root: string): Promise<string> {
  let real: string;
  try {
    real = await realpath(root);
  } catch (err) {
    if (isNotExist(err)) {
      throw new BuildContextError('CONTEXT_NOT_FOUND', `build context ${root} does not exist`, { cause: err });
    }
    throw unreadableContext(err);
  }
  if (!(await stat(real)).isDirectory()) {
    throw new BuildContextError('CONTEXT_NOT_DIR', `build context ${root} is not a directory`);
  }
  return real;
}

async function readSorted(dir: string): Promise<Dirent[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries.sort((a, b) => compareGoStrings(a.name, b.name));
}

function kindOf(st: BigIntStats): ContextEntryKind {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isSocket()) return 'socket';
  if (st.isFIFO()) return 'fifo';
  return st.isCharacterDevice() ? 'char-device' : 'block-device';
}

/** lstat (and readlink for a symlink), or null when the entry vanished during the walk. */
export async function statContextPath(absPath: string): Promise<ContextStat | null> {
  return statContextPathSync(absPath);
}

function statContextPathSync(absPath: string): ContextStat | null {
  try {
    // In nanoseconds: FileDigests takes it as the file's stat rather than lstat it again.
    const st = lstatSync(absPath, { bigint: true });
    const kind = kindOf(st);
    const out: ContextStat = {
      kind, mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid), size: Number(st.size),
      mtimeMs: msOf(st.mtimeNs), dev: Number(st.dev), ino: Number(st.ino), nlink: Number(st.nlink), rdev: Number(st.rdev),
      lstat: st,
    };
    if (kind === 'symlink') out.linkTarget = readlinkSync(absPath);
    return out;
  } catch (err) {
    if (isNotExist(err)) return null;
    throw unreadableContext(err);
  }
}

const NS_PER_SEC = 1_000_000_000n;

/** The time as the number-valued Stats has it (`sec * 1e3 + nsec / 1e6`, the same double), from nanoseconds. */
function msOf(ns: bigint): number {
  let sec = ns / NS_PER_SEC;
  if (ns < 0n && sec * NS_PER_SEC !== ns) sec -= 1n;
  return Number(sec) * 1e3 + Number(ns - sec * NS_PER_SEC) / 1e6;
}

export async function* walkContext(root: string, opts: WalkOptions = {}): AsyncGenerator<ContextEntry, void, undefined> {
  const realRoot = await resolveContextRoot(root);
  const filter = await buildFilter(realRoot, opts);
  let rootChildren: Dirent[];
  try {
    rootChildren = await readSorted(realRoot);
  } catch (err) {
    throw unreadableContext(err);
  }
  const stack: Frame[] = [{ dir: null, children: rootChildren, next: 0 }];
  const slicer = new Slicer();
  while (stack.length > 0) {
    await slicer.maybeYield();
    const frame = stack[stack.length - 1] as Frame;
    const dirent = frame.children[frame.next++];
    if (dirent === undefined) {
      stack.pop();
      continue;
    }
    const rel = frame.dir ? `${frame.dir.path}/${dirent.name}` : dirent.name;
    const absPath = childPath(frame.dir?.absPath ?? realRoot, dirent.name);
    const isDir = dirent.isDirectory();
    const decision = decide(filter, rel, isDir, frame.dir);
    if (decision === 'prune') continue;

    if (!decision.skip) {
      const stats = statContextPathSync(absPath);
      if (stats === null) continue;
      // A kept entry brings along the directories that hold it.
      for (const { dir } of stack) {
        if (dir === null || dir.reported) continue;
        const dirStats = statContextPathSync(dir.absPath);
        if (dirStats === null) break;
        dir.reported = true;
        yield { ...dirStats, path: dir.path, absPath: dir.absPath };
      }
      yield { ...stats, path: rel, absPath };
    }
    if (!isDir) continue;

    let children: Dirent[];
    try {
      children = await readSorted(absPath);
    } catch (err) {
      if (isNotExist(err) || (decision.skip && isPermissionDenied(err))) continue;
      throw unreadableContext(err);
    }
    const dir: VisitedDir = {
      path: rel,
      absPath,
      includeInfo: decision.includeInfo,
      excludeInfo: decision.excludeInfo,
      reported: !decision.skip,
    };
    stack.push({ dir, children, next: 0 });
  }
}
