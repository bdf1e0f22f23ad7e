import { describe, expect, test } from 'vitest';
import { HoistError } from '../../../../src/errors.js';
import {
  BAD_IGNORE_PATTERN,
  NO_PARENT_MATCH_INFO,
  PatternMatcher,
  goClean,
  type MatchInfo,
} from '../../../../src/dockerfile/ignore/index.js';
import { CONFORMANCE_DIR, loadConformance, type MatchCase } from './conformance.js';

const cases = loadConformance<MatchCase[]>('cases.json').map((c) => ({
  ...c,
  name: `${c.source} [${c.api}] ${JSON.stringify(c.patterns)} ${JSON.stringify(c.path)} -> ${
    c.error ? 'error' : c.match ? 'excluded' : 'kept'
  }`,
}));

function expectBadPattern(run: () => unknown): void {
  let caught: unknown;
  try {
    run();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(HoistError);
  expect((caught as HoistError).code).toBe(BAD_IGNORE_PATTERN);
}

/** The deprecated package-level patternmatcher.Matches: cleans the path, and "." is never excluded. */
function packageMatches(m: PatternMatcher, path: string): boolean {
  const file = goClean(path);
  return file === '.' ? false : m.matchesOrParentMatches(file);
}

/** Walks the parent directories first, the way a walker hands results down. */
function matchWithParentChain(m: PatternMatcher, path: string): boolean {
  const parentPath = goClean(path.slice(0, path.lastIndexOf('/') + 1));
  let info: MatchInfo = NO_PARENT_MATCH_INFO;
  if (parentPath !== '.') {
    const dirs = parentPath.split('/');
    for (let i = 1; i <= dirs.length; i++) info = m.matchesUsingParentResults(dirs.slice(0, i).join('/'), info).info;
  }
  return m.matchesUsingParentResults(path, info).excluded;
}

describe('moby/patternmatcher cases.json', () => {
  test('the table is read in place from ../shared', () => {
    expect(CONFORMANCE_DIR).toMatch(/\/shared\/conformance\/dockerignore\/$/);
    expect(cases).toHaveLength(138);
    // Nothing in the table is Windows-only, so nothing is skipped.
    expect(cases.filter((c) => c.platform === 'windows')).toEqual([]);
  });

  test.each(cases)('$name', (c) => {
    if (c.error) {
      expectBadPattern(() => {
        const m = PatternMatcher.compile(c.patterns);
        return c.api === 'Matches' ? packageMatches(m, c.path) : m.matchesOrParentMatches(c.path);
      });
      return;
    }
    const m = PatternMatcher.compile(c.patterns);
    if (c.api === 'Matches') {
      expect(packageMatches(m, c.path)).toBe(c.match);
      return;
    }
    expect(m.matchesOrParentMatches(c.path)).toBe(c.match);
    // Upstream runs the same table through MatchesUsingParentResults, with and without parent context.
    expect(m.matchesUsingParentResults(c.path, NO_PARENT_MATCH_INFO).excluded).toBe(c.match);
    expect(matchWithParentChain(m, c.path)).toBe(c.match);
  });

  test('a pattern New() accepts but cannot compile fails at match time, every time', () => {
    const m = PatternMatcher.compile(['[Local-Only]/']);
    expect(m.patterns).toEqual([{ text: '[Local-Only]', exclusion: false, dirs: ['[Local-Only]'] }]);
    expectBadPattern(() => m.matchesOrParentMatches('x'));
    expectBadPattern(() => m.matchesOrParentMatches('x'));
    expectBadPattern(() => m.matchesUsingParentResults('x'));
  });
});

describe('PatternMatcher.compile (patternmatcher.New cleaning)', () => {
  test('trims, drops empty patterns, cleans, and splits off "!"', () => {
    const m = PatternMatcher.compile(['docs', '', '  ', 'config/', '  !docs/README.md  ', './a/../b/c']);
    expect(m.patterns).toEqual([
      { text: 'docs', exclusion: false, dirs: ['docs'] },
      { text: 'config', exclusion: false, dirs: ['config'] },
      { text: 'docs/README.md', exclusion: true, dirs: ['docs', 'README.md'] },
      { text: 'b/c', exclusion: false, dirs: ['b', 'c'] },
    ]);
    expect(m.hasExclusions).toBe(true);
    expect(PatternMatcher.compile(['docs']).hasExclusions).toBe(false);
  });

  test('a lone "!" is an illegal exclusion pattern', () => {
    expect(() => PatternMatcher.compile(['!'])).toThrow('illegal exclusion pattern: "!"');
  });

  test('errors are DockerfileErrors with a hint', () => {
    let caught: unknown;
    try {
      PatternMatcher.compile(['a[']);
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ name: 'DockerfileError', code: BAD_IGNORE_PATTERN });
    expect((caught as HoistError).hint).toBeTruthy();
    expect((caught as Error).message).toContain('"a["');
  });

  test('MatchInfo from another matcher is a programming error', () => {
    const one = PatternMatcher.compile(['a']);
    const two = PatternMatcher.compile(['a', 'b']);
    const info = two.matchesUsingParentResults('x').info;
    expect(() => one.matchesUsingParentResults('x/y', info)).toThrow(/different PatternMatcher/);
  });
});
