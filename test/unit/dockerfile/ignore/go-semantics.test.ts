/**
 * Where Docker's behaviour comes from Go's regexp (RE2) and filepath.Match
 * rather than from glob intuition. Expected values follow from
 * patternmatcher's translation plus RE2's documented syntax.
 */
import { describe, expect, test } from 'vitest';
import { BAD_IGNORE_PATTERN, PatternMatcher, goFilepathMatch, translatePattern } from '../../../../src/dockerfile/ignore/index.js';

const excluded = (pattern: string, path: string): boolean => PatternMatcher.compile([pattern]).matchesOrParentMatches(path);

describe('RE2 meaning of the generated regexp', () => {
  test.each([
    ['[[:digit:]]*.log', '1x.log', true],
    ['[[:digit:]]*.log', 'a.log', false],
    ['[[:^alpha:]]', '1', true],
    ['[[:^alpha:]]', 'a', false],
    ['[\\d]', '5', true],
    ['[\\d]', 'd', false],
    ['file\\d', 'file7', true],
    ['file\\d', 'filed', false],
    ['a\\x41', 'aA', true],
    ['a\\x41', 'ax41', false],
    ['a\\.b', 'a.b', true],
    ['a\\.b', 'axb', false],
    ['\\Qa*b', 'a[^/]*b$', true],
    ['\\Qa*b', 'axb', false],
    ['a?b', 'a\u{1f600}b', true],
    // "?" inside a class is expanded too: the class ends at the generated "]".
    ['[?]', '[^/]', false],
    ['[?]', '^]', true],
    ['a^b', 'a^b', true],
    ['*.txt', '.hidden.txt', true],
    ['**/*.go', 'x/y/a.go', true],
    ['**/*.go', 'a.go', true],
    ['**file', 'dir/myfile', true],
    ['dir/**', 'dir', false],
    ['.*', 'a/.b', false],
  ] as const)('%j against %j -> %s', (pattern, path, want) => {
    expect(excluded(pattern, path)).toBe(want);
  });

  test.each(['[z-a]', '[[:foo:]]', 'a\\é', 'a\\e', 'x[\\8]'])(
    '%j passes New() but is a syntax error when used',
    (pattern) => {
      const m = PatternMatcher.compile([pattern]);
      expect(() => m.matchesOrParentMatches('anything')).toThrow(expect.objectContaining({ code: BAD_IGNORE_PATTERN }));
    },
  );

  test('an unused broken "!" pattern is never compiled, as in Go', () => {
    expect(PatternMatcher.compile(['![z-a]']).matchesOrParentMatches('x')).toBe(false);
  });

  test('patterns become exact, prefix, suffix or regexp tests', () => {
    expect(translatePattern('a.|)$(}+{bc')).toEqual({ matchType: 'exactMatch', goRegexp: '^a\\.\\|\\)\\$\\(\\}\\+\\{bc' });
    expect(translatePattern('a[b]')).toEqual({ matchType: 'regexpMatch', goRegexp: '^a[b]$' });
    expect(translatePattern('a\\*b')).toEqual({ matchType: 'regexpMatch', goRegexp: '^a\\*b$' });
  });
});

describe('goFilepathMatch (path/filepath.Match)', () => {
  test.each([
    ['abc', 'abc', true],
    ['a*', 'ab/c', false],
    ['a*/b', 'abc/b', true],
    ['a*b*c*d*e*/f', 'axbxcxdxexxx/f', true],
    ['a*b?c*x', 'abxbbxdbxebxczzy', false],
    ['ab[^e-g]', 'abc', true],
    ['a\\*b', 'ab', false],
    ['a???b', 'a\u263ab', false],
    ['[a-\u03b6]*', '\u03b1', true],
    ['[\\-x]', '-', true],
    ['[z-a]', 'm', false],
    ['*x', 'xxx', true],
    ['l*', 'l1', true],
  ] as const)('Match(%j, %j) = %s', (pattern, name, want) => {
    expect(goFilepathMatch(pattern, name)).toBe(want);
  });

  test.each(['[]a]', '[-]', '[x-]', '[-x]', '\\', '[a-b-c]', '[', '[^', '[^bc', 'a[', 'ab*[', '*x\\'])(
    'Match(%j) is a bad pattern even when the name does not match',
    (pattern) => {
      expect(goFilepathMatch(pattern, 'zzz')).toBe('bad-pattern');
      expect(goFilepathMatch(pattern, '.')).toBe('bad-pattern');
    },
  );
});
