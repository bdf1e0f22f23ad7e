import { posix } from 'node:path';
import { HoistError } from '../../errors.js';
import { goFilepathMatch } from '../../dockerfile/ignore/index.js';
import type { SourceFs, SourceNode } from './source-fs.js';

const MAX_LINKS = 255;
const WILDCARD = /[*?[]/;

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
    hint: 'COPY and ADD can only read files inside the build context; move the file into it or choose another context directory',
  });
}

/**
 * Resolve `rel` inside the root, following symlinks in every component (and
 * in the last one if `followFinal`). In the build context a link that leads
 * out is an error; in a stage's filesystem it is clamped at `/` as a
 * container would see it.
 */
export async function resolveInRoot(
  fs: SourceFs,
  rel: string,
  followFinal: boolean,
  source: string,
): Promise<{ rel: string; node: SourceNode | undefined }> {
  const strict = !fs.keepsOwners;
  let pending = rel === '' ? [] : rel.split('/');
  const done: string[] = [];
  let links = 0;
  // The node of the last component pushed onto `done`, while it still is the last one.
  let last: { node: SourceNode | undefined } | undefined;
  while (pending.length > 0) {
    const part = pending.shift() as string;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (done.length === 0) {
        if (strict) throw escapeError(fs, source);
        continue;
      }
      done.pop();
      last = undefined;
      continue;
    }
    const candidate = [...done, part].join('/');
    const node = await fs.lstat(candidate);
    if (node?.kind === 'symlink' && (pending.length > 0 || followFinal)) {
      if (++links > MAX_LINKS) throw new SourceError('SYMLINK_LOOP', `too many levels of symbolic links resolving ${JSON.stringify(source)}`);
      const target = node.linkname.split('/');
      if (node.linkname.startsWith('/')) {
        if (strict) throw escapeError(fs, source);
        done.length = 0;
      }
      pending = [...target, ...pending];
      last = undefined;
      continue;
    }
    done.push(part);
    last = { node };
    if (node === undefined && pending.length > 0) {
      return { rel: [...done, ...pending].filter((p) => p !== '' && p !== '.').join('/'), node: undefined };
    }
  }
  const finalRel = done.join('/');
  return { rel: finalRel, node: last !== undefined ? last.node : await fs.lstat(finalRel) };
}

/** Clean a source as written; `..` that climbs out of the root is refused. */
export function cleanSource(fs: SourceFs, source: string): string {
  const cleaned = posix.normalize(`${source.replace(/^\/+/, '')}`).replace(/\/+$/, '');
  if (cleaned === '..' || cleaned.startsWith('../')) throw escapeError(fs, source);
  return cleaned === '.' || cleaned === '' ? '' : cleaned;
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
      const resolved = await resolveInRoot(fs, dir, true, source);
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
    const resolved = await resolveInRoot(fs, rel, true, source);
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
