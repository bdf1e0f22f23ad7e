/**
 * One cleaned .dockerignore pattern to a path predicate, the way
 * moby/patternmatcher's Pattern.compile does it: literal patterns become
 * exact, prefix (`dir/**`) or suffix (`**\/name`) string tests, everything
 * else becomes Go regexp text, which go-regexp.ts compiles with RE2 meaning.
 *
 * minimatch is not used: Docker's rules differ from it in ways the
 * conformance cases check (`**file` is a suffix test, `*` matches leading
 * dots, a bad `[` is an error, `\` escapes follow Go's regexp parser).
 */
import { compileGoRegexp } from './go-regexp.js';

export type MatchType = 'exactMatch' | 'prefixMatch' | 'suffixMatch' | 'regexpMatch';

export interface CompiledPattern {
  readonly matchType: MatchType;
  /** The Go regexp text patternmatcher builds; null unless matchType is regexpMatch. */
  readonly goRegexp: string | null;
  test(path: string): boolean;
}

export type CompileResult = { ok: true; pattern: CompiledPattern } | { ok: false; goRegexp: string; error: string };

/** Regexp metacharacters that mean nothing in a filepath.Match pattern. */
const SHOULD_ESCAPE = new Set(['.', '+', '(', ')', '|', '{', '}', '$']);

/** Builds the regexp text and match type; `cleaned` has no leading "!". */
export function translatePattern(cleaned: string): { matchType: MatchType; goRegexp: string } {
  const cs = Array.from(cleaned);
  let reg = '^';
  let matchType: MatchType = 'exactMatch';
  let k = 0;
  for (let i = 0; k < cs.length; i++) {
    const ch = cs[k++] as string;
    if (ch === '*') {
      if (cs[k] === '*') {
        k++;
        // "**/" is treated as "**".
        if (cs[k] === '/') k++;
        if (k >= cs.length) {
          // Trailing "**" accepts everything below, as in .gitignore.
          if (matchType === 'exactMatch') {
            matchType = 'prefixMatch';
          } else {
            reg += '.*';
            matchType = 'regexpMatch';
          }
        } else {
          reg += '(.*/)?';
          matchType = 'regexpMatch';
        }
        if (i === 0) matchType = 'suffixMatch';
      } else {
        reg += '[^/]*';
        matchType = 'regexpMatch';
      }
    } else if (ch === '?') {
      reg += '[^/]';
      matchType = 'regexpMatch';
    } else if (SHOULD_ESCAPE.has(ch)) {
      reg += `\\${ch}`;
    } else if (ch === '\\') {
      const next = cs[k];
      if (next !== undefined) {
        k++;
        reg += `\\${next}`;
        matchType = 'regexpMatch';
      } else {
        reg += '\\';
      }
    } else if (ch === '[' || ch === ']') {
      reg += ch;
      matchType = 'regexpMatch';
    } else {
      reg += ch;
    }
  }
  if (matchType === 'regexpMatch') reg += '$';
  return { matchType, goRegexp: reg };
}

export function compilePattern(cleaned: string): CompileResult {
  const { matchType, goRegexp } = translatePattern(cleaned);
  switch (matchType) {
    case 'exactMatch':
      return { ok: true, pattern: { matchType, goRegexp: null, test: (p) => p === cleaned } };
    case 'prefixMatch': {
      const prefix = cleaned.slice(0, -2);
      return { ok: true, pattern: { matchType, goRegexp: null, test: (p) => p.startsWith(prefix) } };
    }
    case 'suffixMatch': {
      const suffix = cleaned.slice(2);
      // "**/foo" also matches "foo" itself.
      const bare = suffix.startsWith('/') ? suffix.slice(1) : null;
      return { ok: true, pattern: { matchType, goRegexp: null, test: (p) => p.endsWith(suffix) || p === bare } };
    }
    case 'regexpMatch': {
      const compiled = compileGoRegexp(goRegexp);
      if (!compiled.ok) return { ok: false, goRegexp, error: compiled.error };
      const re = compiled.regexp;
      return { ok: true, pattern: { matchType, goRegexp, test: (p) => re.test(p) } };
    }
  }
}
