/**
 * fsutil's FollowLinks: turns FollowPaths into extra include patterns by
 * resolving symlinks inside the context, so that a followed link's target
 * is sent along with the link. Link targets are read as paths inside the
 * context root (an absolute target "/x" means "<root>/x"). Only the
 * resolver reads links; the walker itself never follows them.
 */
import { lstat, readdir, readlink } from 'node:fs/promises';
import { goClean, goFilepathMatch } from '../../dockerfile/ignore/index.js';
import { isNotExist, unreadableContext } from './errors.js';
import { compareGoStrings } from './go-order.js';

/** filepath.Join: skips empty elements, cleans the result. */
function goJoin(...elems: string[]): string {
  const parts = elems.filter((e) => e !== '');
  return parts.length === 0 ? '' : goClean(parts.join('/'));
}

function goBase(p: string): string {
  const trimmed = p.replace(/\/+$/, '');
  if (trimmed === '') return p === '' ? '.' : '/';
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

function goDirOf(p: string): string {
  return goClean(p.slice(0, p.lastIndexOf('/') + 1));
}

function containsWildcards(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const ch = name[i];
    if (ch === '\\') i++;
    else if (ch === '*' || ch === '?' || ch === '[') return true;
  }
  return false;
}

/**
 * fsutil's dedupePaths (input expected sorted): drops paths under an earlier
 * one; null when one of them is the root, which means "no filter at all".
 */
export function dedupePaths(paths: readonly string[]): string[] | null {
  const out: string[] = [];
  let last = '';
  for (const p of paths) {
    if (p === '.') return null;
    if (p.startsWith(`${last}/`)) continue;
    out.push(p);
    last = p;
  }
  return out;
}

class SymlinkResolver {
  readonly resolved = new Set<string>();

  constructor(private readonly root: string) {}

  async append(input: string): Promise<void> {
    let p = input;
    let current = '.';
    for (;;) {
      const slash = p.indexOf('/');
      current = goJoin(current, slash < 0 ? p : p.slice(0, slash));
      const targets = await this.readSymlink(current, true);
      p = slash < 0 ? '' : p.slice(slash + 1);
      if ((p === '' || targets !== null) && this.resolved.has(current)) return;
      if (targets !== null) {
        this.resolved.add(current);
        for (const target of targets) await this.append(goJoin(target, p));
        return;
      }
      if (p === '') {
        this.resolved.add(current);
        return;
      }
    }
  }

  /** Root-relative link targets of `p` (a wildcard base expands), or null when none is a link. */
  private async readSymlink(p: string, allowWildcard: boolean): Promise<string[] | null> {
    // Never look outside the context, whatever path the caller asked to follow.
    if (p === '..' || p.startsWith('../')) return null;
    const realPath = goJoin(this.root, p);
    const base = goBase(p);
    if (allowWildcard && containsWildcards(base)) {
      let names: string[];
      try {
        names = (await readdir(goDirOf(realPath))).sort(compareGoStrings);
      } catch (err) {
        if (isNotExist(err)) return null;
        throw unreadableContext(err);
      }
      const out: string[] = [];
      for (const name of names) {
        if (goFilepathMatch(base, name) !== true) continue;
        out.push(...((await this.readSymlink(goJoin(goDirOf(p), name), false)) ?? []));
      }
      return out.length > 0 ? out : null;
    }
    let link: string;
    try {
      if (!(await lstat(realPath)).isSymbolicLink()) return null;
      link = goClean(await readlink(realPath));
    } catch (err) {
      if (isNotExist(err)) return null;
      throw unreadableContext(err);
    }
    if (link.startsWith('/')) return [link];
    return [goJoin('/', goJoin(goDirOf(p), link))];
  }
}

/** The FollowPaths and their resolved targets, sorted and deduplicated; null means "everything". */
export async function followLinks(root: string, paths: readonly string[]): Promise<string[] | null> {
  const resolver = new SymlinkResolver(root);
  for (const p of paths) await resolver.append(p);
  return dedupePaths([...resolver.resolved].sort(compareGoStrings));
}
