/**
 * moby/patternmatcher's PatternMatcher: an ordered list of .dockerignore
 * patterns where the last matching line wins, `!` lines re-include, and a
 * path is also matched when one of its parent directories is.
 */
import { DockerfileError } from '../errors.js';
import { goFilepathMatch } from './go-filepath-match.js';
import { trimGoSpace } from '../parser/chars.js';
import { goClean, goDir } from './go-path.js';
import { compilePattern, type CompiledPattern } from './pattern-compile.js';

export const BAD_IGNORE_PATTERN = 'BAD_IGNORE_PATTERN';

export interface IgnorePattern {
  /** The cleaned pattern, without its leading "!". */
  readonly text: string;
  /** A `!` line: re-includes what earlier lines excluded. */
  readonly exclusion: boolean;
  /** `text` split on "/". */
  readonly dirs: string[];
}

/** Per-pattern results for a directory, handed down to its children during a walk. */
export interface MatchInfo {
  readonly parentMatched: readonly boolean[];
}

/** The MatchInfo to use for entries at the top of the tree (no parent results). */
export const NO_PARENT_MATCH_INFO: MatchInfo = Object.freeze({ parentMatched: Object.freeze([]) as readonly boolean[] });

const HINT =
  'patterns use Go filepath.Match syntax: close every "[" class, do not end a line with "\\", ' +
  'and give "!" a pattern to re-include';

function badPattern(detail: string): DockerfileError {
  return new DockerfileError(BAD_IGNORE_PATTERN, detail, undefined, { hint: HINT });
}

interface Entry {
  readonly pattern: IgnorePattern;
  /** A pattern New() accepts can still fail to compile; like Go, that fails when it is used. */
  readonly compiled: CompiledPattern | { readonly error: string };
}

export class PatternMatcher {
  readonly patterns: readonly IgnorePattern[];
  readonly hasExclusions: boolean;
  readonly #entries: readonly Entry[];

  private constructor(entries: readonly Entry[]) {
    this.#entries = entries;
    this.patterns = Object.freeze(entries.map((e) => e.pattern));
    this.hasExclusions = entries.some((e) => e.pattern.exclusion);
  }

  /**
   * patternmatcher.New: trims, drops empty patterns, applies filepath.Clean,
   * splits off "!", and rejects what filepath.Match calls a bad pattern.
   */
  static compile(patterns: readonly string[]): PatternMatcher {
    const entries: Entry[] = [];
    for (const raw of patterns) {
      let text = trimGoSpace(raw);
      if (text === '') continue;
      text = goClean(text);
      let exclusion = false;
      if (text.startsWith('!')) {
        if (text.length === 1) throw badPattern('illegal exclusion pattern: "!"');
        exclusion = true;
        text = text.slice(1);
      }
      if (goFilepathMatch(text, '.') === 'bad-pattern') {
        throw badPattern(`invalid ignore pattern ${JSON.stringify(text)}: syntax error in pattern`);
      }
      const result = compilePattern(text);
      entries.push({
        pattern: Object.freeze({ text, exclusion, dirs: text.split('/') }),
        compiled: result.ok ? result.pattern : { error: result.error },
      });
    }
    return new PatternMatcher(entries);
  }

  /** true when `path` ('/'-separated, relative) is excluded by the patterns. */
  matchesOrParentMatches(path: string): boolean {
    let matched = false;
    const parentPath = goDir(path);
    const parentDirs = parentPath.split('/');
    for (const entry of this.#entries) {
      // Only a "!" line can change an excluded path, and only a plain line an included one.
      if (entry.pattern.exclusion !== matched) continue;
      let match = test(entry, path);
      if (!match && parentPath !== '.') match = anyParentMatches(entry, parentDirs);
      if (match) matched = !entry.pattern.exclusion;
    }
    return matched;
  }

  /**
   * MatchesUsingParentResults: the same answer as matchesOrParentMatches when
   * `parent` is the info returned for the path's parent directory (or
   * NO_PARENT_MATCH_INFO at the top), without re-testing every ancestor.
   */
  matchesUsingParentResults(path: string, parent: MatchInfo = NO_PARENT_MATCH_INFO): { excluded: boolean; info: MatchInfo } {
    const inherited = parent.parentMatched;
    if (inherited.length !== 0 && inherited.length !== this.#entries.length) {
      throw new Error('matchesUsingParentResults: MatchInfo comes from a different PatternMatcher');
    }
    let matched = false;
    const parentMatched = new Array<boolean>(this.#entries.length).fill(false);
    this.#entries.forEach((entry, i) => {
      let match = inherited[i] ?? false;
      if (!match) {
        if (entry.pattern.exclusion !== matched) return;
        match = test(entry, path);
        if (!match && inherited.length === 0) {
          const parentPath = goDir(path);
          if (parentPath !== '.') match = anyParentMatches(entry, parentPath.split('/'));
        }
      }
      parentMatched[i] = match;
      if (match) matched = !entry.pattern.exclusion;
    });
    return { excluded: matched, info: { parentMatched } };
  }
}

function test(entry: Entry, path: string): boolean {
  const { compiled } = entry;
  if ('error' in compiled) {
    throw badPattern(
      `invalid ignore pattern ${JSON.stringify(entry.pattern.text)}: syntax error in pattern (${compiled.error})`,
    );
  }
  return compiled.test(path);
}

function anyParentMatches(entry: Entry, parentDirs: readonly string[]): boolean {
  for (let i = 1; i <= parentDirs.length; i++) {
    if (test(entry, parentDirs.slice(0, i).join('/'))) return true;
  }
  return false;
}
