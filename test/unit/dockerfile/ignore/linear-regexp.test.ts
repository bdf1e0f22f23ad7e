/**
 * The linear matcher behind .dockerignore regexps (regexp-nfa.ts) against
 * JavaScript's RegExp as the oracle, on regexps where RE2 and JavaScript
 * agree: every text up to length 5 over a small alphabet, so that the DFA
 * cache, the unanchored search, empty loops and both kinds of assertions
 * are all exercised.
 */
import { describe, expect, test } from 'vitest';
import { compileGoRegexp } from '../../../../src/dockerfile/ignore/go-regexp.js';

const REGEXPS = [
  '^a$',
  'a',
  '^(a|b)*b$',
  '^(.*/)?[^/]*a$',
  '^(.*/)?(.*/)?b$',
  'a+b?',
  '^(a|)*$',
  '(^)*a',
  'a$|^b',
  '^a(b|/)*?a$',
  '\\ba',
  'a\\b',
  '\\Ba\\B',
  '^[^/]*\\b/',
  '(a*)*b',
  '^$',
  '$',
];

function texts(alphabet: string, maxLength: number): string[] {
  const out = [''];
  let level = [''];
  for (let n = 1; n <= maxLength; n++) {
    level = level.flatMap((t) => Array.from(alphabet, (c) => t + c));
    out.push(...level);
  }
  return out;
}

const ALL = texts('ab/ ', 5);

describe('LinearRegexp agrees with RegExp', () => {
  test.each(REGEXPS)('%s', (src) => {
    const compiled = compileGoRegexp(src);
    if (!compiled.ok) throw new Error(compiled.error);
    const oracle = new RegExp(src);
    const wrong = ALL.filter((t) => compiled.regexp.test(t) !== oracle.test(t));
    expect(wrong).toEqual([]);
    // Asked again, the cached DFA states give the same answers.
    expect(ALL.filter((t) => compiled.regexp.test(t) !== oracle.test(t))).toEqual([]);
  });

  test('RE2 syntax errors are still reported', () => {
    expect(compileGoRegexp('a**')).toMatchObject({ ok: false, error: 'invalid nested repetition operator' });
    expect(compileGoRegexp('*a')).toMatchObject({ ok: false, error: 'missing argument to repetition operator' });
    expect(compileGoRegexp('(a')).toMatchObject({ ok: false, error: 'missing closing )' });
    expect(compileGoRegexp('a)')).toMatchObject({ ok: false, error: 'unexpected )' });
  });
});
