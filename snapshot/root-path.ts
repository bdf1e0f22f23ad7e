/**
 * Paths inside a root: the one lexical cleaner and the one symlink-following
 * resolver that the build context, a stage's FsView, an archive being
 * extracted and a COPY destination all use.
 *
 * The resolver works like containerd's continuity `fs.RootPath` (which
 * BuildKit uses for every COPY/ADD) and filepath-securejoin: components are
 * taken one at a time; a symlink on the way is replaced by its target, an
 * absolute target starting again from the root; `..` never climbs above the
 * root (as in a chroot); a missing component is kept as written, and what
 * follows it is taken lexically. It is pure: it looks nodes up through a
 * `RootWalk` the caller supplies, synchronous (an in-memory view) or not
 * (files on disk).
 */
import { HoistError } from '../src/errors.js';

/** Symlinks one resolution may follow (filepath-securejoin allows 255 too). */
export const MAX_SYMLINKS = 255;

export interface CleanPath {
  /** '/'-separated, no leading `/`, no `.`, `..` or empty components; `''` for the root. */
  path: string;
  /** A `..` would have climbed above the root (it was dropped). */
  climbed: boolean;
}

/**
 * Go's `path.Clean` of `/` + `p`, without the leading `/`: `a//b/./c/../d/`
 * -> `a/b/d`, `/x` -> `x`, `.` -> `''`. Purely lexical. A `..` that would
 * leave the root is dropped and reported, so that a caller can clamp (a
 * path in a container) or refuse (an archive member, a COPY source).
 */
export function cleanPath(p: string): CleanPath {
  const out: string[] = [];
  let climbed = false;
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) climbed = true;
      else out.pop();
    } else {
      out.push(part);
    }
  }
  return { path: out.join('/'), climbed };
}

/** How the resolver sees the tree: nodes of some type N, looked up one name at a time. */
export interface RootWalk<N> {
  /** The root directory's node. */
  readonly root: N;
  /**
   * The entry `name` of the directory `parent`, whose canonical path plus
   * `name` is `path`; undefined when it does not exist or `parent` is not a
   * directory.
   */
  child(parent: N, name: string, path: string): N | undefined;
  /** The target when `node` is a symlink, else undefined. */
  linkname(node: N): string | undefined;
}

/** A RootWalk whose lookups may wait (files on disk). */
export interface AsyncRootWalk<N> extends Omit<RootWalk<N>, 'child'> {
  child(parent: N, name: string, path: string): Promise<N | undefined> | N | undefined;
}

export interface RootPathOptions {
  /** Follow a symlink in the last component too (default false). */
  followFinal?: boolean;
  /**
   * Without it, `..` above the root and absolute symlink targets are taken
   * inside the root (a chroot's view). With it, either is refused by
   * throwing what it returns: for roots whose links must not lead anywhere
   * else (the build context).
   */
  onEscape?: (why: 'dotdot' | 'absolute-link') => Error;
  /** The error when more than MAX_SYMLINKS links are followed; SYMLINK_LOOP by default. */
  onLoop?: (path: string) => Error;
}

export interface RootPath<N> {
  /** Canonical path inside the root: no leading `/`, `''` for the root itself. */
  path: string;
  parts: string[];
  /** The node at `path` (a final symlink not followed unless followFinal); undefined if absent. */
  node: N | undefined;
}

interface Lookup<N> {
  parent: N;
  name: string;
  path: string;
}

function loopError(path: string): HoistError {
  return new HoistError('SYMLINK_LOOP', `too many levels of symbolic links resolving ${JSON.stringify(path)}`, {
    hint: `more than ${MAX_SYMLINKS} symlinks were followed; look for a symlink cycle`,
  });
}

/** The resolution as a sequence of lookups, so that one algorithm serves synchronous and asynchronous trees. */
function* resolveSteps<N>(
  root: N,
  linkname: (node: N) => string | undefined,
  path: string,
  opts: RootPathOptions,
): Generator<Lookup<N>, RootPath<N>, N | undefined> {
  const pending = path.split('/').filter((c) => c !== '').reverse();
  const parts: string[] = [];
  // nodes[i] is the node at parts[0..i) (nodes[0] the root); undefined below something missing.
  const nodes: (N | undefined)[] = [root];
  // paths[i] is parts[0..i) joined, built one component at a time so that a
  // lookup costs O(1), not O(depth): a deep path stays linear.
  const paths: string[] = [''];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.pop() as string;
    if (part === '.') continue;
    if (part === '..') {
      if (parts.length > 0) {
        parts.pop();
        nodes.pop();
        paths.pop();
      } else if (opts.onEscape) {
        throw opts.onEscape('dotdot');
      }
      continue;
    }
    const parent = nodes[nodes.length - 1];
    const prefix = paths[paths.length - 1] as string;
    const childPath = prefix === '' ? part : `${prefix}/${part}`;
    const child = parent === undefined ? undefined : yield { parent, name: part, path: childPath };
    const target = child === undefined ? undefined : linkname(child);
    if (target !== undefined && (pending.length > 0 || (opts.followFinal ?? false))) {
      if (++links > MAX_SYMLINKS) throw opts.onLoop ? opts.onLoop(path) : loopError(path);
      if (target.startsWith('/')) {
        if (opts.onEscape) throw opts.onEscape('absolute-link');
        parts.length = 0;
        nodes.length = 1;
        paths.length = 1;
      }
      const targetParts = target.split('/');
      for (let i = targetParts.length - 1; i >= 0; i--) {
        const t = targetParts[i] as string;
        if (t !== '') pending.push(t);
      }
      continue;
    }
    parts.push(part);
    nodes.push(child);
    paths.push(childPath);
  }
  return { path: parts.join('/'), parts, node: nodes[nodes.length - 1] };
}

/** Resolve `path` (relative to the root; a leading `/` means the same) inside a synchronous tree. */
export function resolveInRoot<N>(walk: RootWalk<N>, path: string, opts: RootPathOptions = {}): RootPath<N> {
  const steps = resolveSteps(walk.root, (n) => walk.linkname(n), path, opts);
  let step = steps.next();
  while (!step.done) step = steps.next(walk.child(step.value.parent, step.value.name, step.value.path));
  return step.value;
}

/** resolveInRoot over a tree whose lookups are asynchronous. */
export async function resolveInRootAsync<N>(walk: AsyncRootWalk<N>, path: string, opts: RootPathOptions = {}): Promise<RootPath<N>> {
  const steps = resolveSteps(walk.root, (n) => walk.linkname(n), path, opts);
  let step = steps.next();
  while (!step.done) step = steps.next(await walk.child(step.value.parent, step.value.name, step.value.path));
  return step.value;
}
