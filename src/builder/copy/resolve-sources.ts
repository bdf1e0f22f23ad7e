import { cleanPath, resolveInRootAsync } from '../../../snapshot/root-path.js';
import { HoistError } from '../../errors.js';
import { goFilepathMatch } from '../../dockerfile/ignore/index.js';
import type { SourceFs, SourceNode } from './source-fs.js';

const WILDCARD = /[*?[]/;

/** Whether a source has Go filepath.Match metacharacters. */
export function hasWildcard(source: string): boolean {
  return WILDCARD.test(source);
}

/** One source that a COPY line names, after wildcards and symlinks. */
export interface SourceMatch {
  /** The lexical path as matched (relative to the source root): its base name names the copy. */
  rel: string;
  /** The node, with a top-level symlink followed. */
  node: SourceNode;
  /** Where the node really is (symlinks resolved): directories are walked from here. */
  realRel: string;
}

export class SourceError extends HoistError {}

function escapeError(fs: SourceFs, source: string): SourceError {
  return new SourceError('SOURCE_OUTSIDE_CONTEXT', `source ${JSON.stringify(source)} is outside the ${fs.description}`, {
    hint: 'a build reads only files inside the build context (COPY, ADD, RUN --mount), and no symbolic link there may lead out of it: move the file into the context, or choose a wider context directory',
  });
}

/** The source root itself: a directory, looked up like any other node only at the end. */
const ROOT: SourceNode = Object.freeze({ kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0 });

/**
 * Resolve `rel` inside the root, following symlinks in every component (and
 * in the last one if `followFinal`). In the build context a link that leads
 * out is an error; in a stage's filesystem it is clamped at `/` as a
 * container would see it.
 */
export async function resolveInSource(
  fs: SourceFs,
  rel: string,
  followFinal: boolean,
  source: string,
): Promise<{ rel: string; node: SourceNode | undefined }> {
  const resolved = await resolveInRootAsync<SourceNode>(
    {
      root: ROOT,
      child: (parent, _name, path) => (parent.kind === 'dir' ? fs.lstat(path) : undefined),
      linkname: (node) => (node.kind === 'symlink' ? node.linkname : undefined),
    },
    rel,
    {
      followFinal,
      onLoop: () => new SourceError('SYMLINK_LOOP', `too many levels of symbolic links resolving ${JSON.stringify(source)}`),
      ...(fs.keepsOwners ? {} : { onEscape: () => escapeError(fs, source) }),
    },
  );
  return { rel: resolved.path, node: resolved.path === '' ? await fs.lstat('') : resolved.node };
}

/** Clean a source as written; `..` that climbs out of the root is refused. */
export function cleanSource(fs: SourceFs, source: string): string {
  const cleaned = cleanPath(source.replace(/^\/+/, ''));
  if (cleaned.climbed) throw escapeError(fs, source);
  return cleaned.path;
}

async function expandWildcards(fs: SourceFs, segments: string[], source: string): Promise<string[]> {
  let partials = [''];
  for (const segment of segments) {
    const next: string[] = [];
    for (const dir of partials) {
      if (!WILDCARD.test(segment)) {
        next.push(dir === '' ? segment : `${dir}/${segment}`);
        continue;
      }
      const resolved = await resolveInSource(fs, dir, true, source);
      if (resolved.node?.kind !== 'dir') continue;
      for (const name of await fs.readdir(resolved.rel)) {
        const matched = goFilepathMatch(segment, name);
        if (matched === 'bad-pattern') throw new SourceError('BAD_SOURCE_PATTERN', `source ${JSON.stringify(source)} is not a valid pattern`);
        if (!matched) continue;
        const lexical = dir === '' ? name : `${dir}/${name}`;
        if (!fs.isIgnored(`${resolved.rel === '' ? '' : `${resolved.rel}/`}${name}`)) next.push(lexical);
      }
    }
    partials = next;
  }
  return partials;
}

/**
 * All matches of one COPY/ADD source. A path that matches nothing is an
 * error; a wildcard that matches nothing gives no matches (Docker fails the
 * instruction only when none of its sources matched: see noSourceFiles).
 * What .dockerignore excludes is not in the context's SourceFs at all.
 */
export async function resolveSources(fs: SourceFs, source: string, what: string): Promise<SourceMatch[]> {
  const cleaned = cleanSource(fs, source);
  const wildcard = WILDCARD.test(cleaned);
  const lexicals = wildcard ? await expandWildcards(fs, cleaned.split('/'), source) : [cleaned];
  const matches: SourceMatch[] = [];
  for (const rel of lexicals) {
    const resolved = await resolveInSource(fs, rel, true, source);
    if (resolved.node === undefined) continue;
    matches.push({ rel, node: resolved.node, realRel: resolved.rel });
  }
  if (matches.length === 0 && !wildcard) {
    const where = whereIn(fs);
    throw new SourceError('SOURCE_NOT_FOUND', `${what}: source ${JSON.stringify(source)} not found ${where}`);
  }
  return matches;
}

/** Where a source was looked for, as error messages say it. */
function whereIn(fs: SourceFs): string {
  return fs.description === 'build context' ? 'in build context (is it excluded by .dockerignore?)' : `in ${fs.description}`;
}

/** Every source of an instruction matched nothing (only wildcards can get here). */
export function noSourceFiles(fs: SourceFs, sources: readonly string[], what: string): SourceError {
  const where = whereIn(fs);
  return new SourceError('SOURCE_NOT_FOUND', `${what}: no source files were specified: ${sources.map((s) => JSON.stringify(s)).join(' ')} match nothing ${where}`);
}
