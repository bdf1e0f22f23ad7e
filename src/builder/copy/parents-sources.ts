/**
 * What a `COPY --parents` source names, as BuildKit reads it
 * (dockerfile2llb convert_copy.go): the source is split at its first `/./`
 * into a pivot (the directory copied from, `.` when there is none; it may
 * hold wildcards, each match is a pivot) and a pattern below it. The pattern
 * is a .dockerignore-style include pattern (moby/patternmatcher), so `**`
 * spans any number of directories, and a directory that matches brings its
 * whole tree. Only a source without any wildcard must exist; a wildcard that
 * matches nothing is no error.
 */
import { PatternMatcher } from '../../dockerfile/ignore/index.js';
import { cleanSource, hasWildcard, resolveInSource, resolveSources, SourceError, type SourceMatch } from './resolve-sources.js';
import type { SourceFs } from './source-fs.js';

/** One pivot directory and what the pattern matches below it. */
export interface ParentsMatch {
  /** The pivot directory, symlinks resolved. */
  root: string;
  /** `rel` is relative to the pivot (it is the path kept under the destination); `realRel` to the source root. */
  matches: SourceMatch[];
}

function join(dir: string, name: string): string {
  return dir === '' ? name : name === '' ? dir : `${dir}/${name}`;
}

export async function resolveParentsSource(fs: SourceFs, source: string, what: string): Promise<ParentsMatch[]> {
  const pivot = source.indexOf('/./');
  const prefix = pivot < 0 ? '' : source.slice(0, pivot);
  const pattern = cleanSource(fs, pivot < 0 ? source : source.slice(pivot + 3));
  const wildcard = hasWildcard(prefix) || hasWildcard(pattern);
  const roots = hasWildcard(prefix)
    ? (await resolveSources(fs, prefix, what)).filter((m) => m.node.kind === 'dir').map((m) => m.realRel)
    : [(await resolveInSource(fs, cleanSource(fs, prefix), true, source)).rel];
  const out: ParentsMatch[] = [];
  for (const root of roots) {
    const matches = hasWildcard(pattern) ? await walkMatches(fs, root, PatternMatcher.compile([pattern])) : await exactMatch(fs, root, pattern, source);
    out.push({ root, matches });
  }
  if (!wildcard && out.every((p) => p.matches.length === 0)) {
    throw new SourceError('SOURCE_NOT_FOUND', `${what}: source ${JSON.stringify(source)} not found in ${fs.description}`);
  }
  return out;
}

/** The one path a pattern without wildcards names; its last component is copied as it is (a symlink stays one). */
async function exactMatch(fs: SourceFs, root: string, pattern: string, source: string): Promise<SourceMatch[]> {
  const resolved = await resolveInSource(fs, join(root, pattern), pattern === '', source);
  if (resolved.node === undefined || fs.isIgnored(resolved.rel)) return [];
  return [{ rel: pattern, node: resolved.node, realRel: resolved.rel }];
}

/** Every path below `root` the pattern matches, in walk order; a matching directory is not entered. */
async function walkMatches(fs: SourceFs, root: string, pattern: PatternMatcher): Promise<SourceMatch[]> {
  const out: SourceMatch[] = [];
  const visit = async (rel: string): Promise<void> => {
    for (const name of await fs.readdir(join(root, rel))) {
      const childRel = join(rel, name);
      const real = join(root, childRel);
      const node = await fs.lstat(real);
      if (node === undefined) continue;
      const ignored = fs.isIgnored(real);
      if (ignored && !(node.kind === 'dir' && fs.mayReinclude)) continue;
      if (!ignored && pattern.matchesOrParentMatches(childRel)) out.push({ rel: childRel, node, realRel: real });
      else if (node.kind === 'dir') await visit(childRel);
    }
  };
  const top = await fs.lstat(root);
  if (top?.kind === 'dir') await visit('');
  return out;
}
