import { describe, expect, test } from 'vitest';
import { ShellLex } from '../../../../src/dockerfile/shell/index.js';
import { compileShellPattern, reversePattern } from '../../../../src/dockerfile/shell/glob-pattern.js';
import { expandGoTemplate } from '../../../../src/dockerfile/shell/regexp-template.js';

const lex = new ShellLex();

function expand(word: string, value: string): string {
  return lex.processWord(word, new Map([['V', value]]));
}

describe('trim operators', () => {
  test.each([
    ['${V#*/}', 'a/b/c', 'b/c'],
    ['${V##*/}', 'a/b/c', 'c'],
    ['${V%/*}', 'a/b/c', 'a/b'],
    ['${V%%/*}', 'a/b/c', 'a'],
    ['${V#?}', 'abc', 'bc'],
    ['${V%?}', '한국어', '한국'],
    ['${V#a?}', 'a🚀b', 'b'],
    ['${V%\\*}', 'x**', 'x*'],
    ['${V#nomatch}', 'abc', 'abc'],
    // Brackets are literal: BuildKit has no bracket expressions.
    ['${V%%[ab]}', 'x[ab]', 'x'],
    ['${V%%[ab]}', 'xa', 'xa'],
    // Wildcards never match a newline (Go's `.`).
    ['${V##*}', 'a\nb', '\nb'],
    ['${V%%*}', 'a\nb', 'a\n'],
    // Quotes in a pattern are removed; what they held is still a pattern.
    ["${V#'*'}", 'ab', 'ab'],
    ['${V#"a"}', 'ab', 'b'],
  ])('%s of %j -> %j', (word, value, expected) => {
    expect(expand(word, value)).toBe(expected);
  });
});

describe('replace operators', () => {
  test.each([
    ['${V/o/0}', 'foo', 'f0o'],
    ['${V//o/0}', 'foo', 'f00'],
    ['${V/o*/0}', 'foo.o', 'f0'],
    ['${V//?/x}', '🚀🖖', 'xx'],
    ['${V/\\//_}', 'a/b/c', 'a_b/c'],
    // Go's ReplaceAllString: no empty match right after a match.
    ['${V//a*/-}', 'baaac', 'b-'],
    ['${V//*/-}', 'ab', '-'],
    ['${V//*/-}', 'a\nb', '-\n-'],
    ['${V///-}', 'ab', '-a-b-'],
    // `//` runs the replacement through Go's $ template; `/` does not.
    ["${V//o/'<$0>'}", 'foo', 'f<o><o>'],
    ["${V/o/'<$0>'}", 'foo', 'f<$0>o'],
    ["${V//o/'\\${0}x'}", 'foo', 'f\\ox\\ox'],
    ["${V//o/'$$'}", 'foo', 'f$$'],
    ["${V//o/'[$1$name]'}", 'foo', 'f[][]'],
    ["${V//o/'$ '}", 'foo', 'f$ $ '],
  ])('%s of %j -> %j', (word, value, expected) => {
    expect(expand(word, value)).toBe(expected);
  });
});

describe('compileShellPattern', () => {
  test.each([
    ['*', true, '^abc', 'abc'],
    ['*', false, '^abc', ''],
    ['a*c', false, '^abcbc', 'abc'],
    ['a*c', true, '^abcbc', 'abcbc'],
    ['()[]{\\}^$.\\*\\?|\\\\+/', true, '^()[]{}^$.*?|\\+/', '()[]{}^$.*?|\\+/'],
  ])('%j (greedy %s) on %j matches %j', (pattern, greedy, value, expected) => {
    const re = compileShellPattern(pattern, greedy, true);
    expect(re.exec(value.slice(1))?.text).toBe(expected);
  });

  test.each(['\\', '\\x', '\\\\\\'])('rejects %j', (pattern) => {
    expect(() => compileShellPattern(pattern, true, true)).toThrow(/^invalid escape '\\/);
  });
});

describe('reversePattern keeps escapes in order', () => {
  test.each([
    ['a\\*c', 'c\\*a'],
    ['\\\\\\ab', 'b\\a\\\\'],
    ['ab\\', '\\ba'],
    ['👽\\🚀🖖', '🖖\\🚀👽'],
  ])('%j -> %j', (pattern, expected) => {
    expect(reversePattern(pattern)).toBe(expected);
  });
});

describe('expandGoTemplate', () => {
  test.each([
    ['<$0>', '<m>'],
    ['<${0}>', '<m>'],
    ['<$00>', '<>'],
    ['<$0a>', '<>'],
    ['<${0>', '<${0>'],
    ['<$$0>', '<$0>'],
    ['<$>', '<$>'],
    ['$', '$'],
  ])('%j -> %j', (template, expected) => {
    expect(expandGoTemplate(template, 'm')).toBe(expected);
  });
});

/** The regexp BuildKit builds for a shell pattern (Go's RE2 finds the same match a RegExp does here). */
function buildkitRegexp(pattern: string, greedy: boolean, anchored: boolean): RegExp {
  let source = anchored ? '^' : '';
  for (const ch of pattern) {
    if (ch === '*') source += greedy ? '[^\\n]*' : '[^\\n]*?';
    else if (ch === '?') source += '[^\\n]';
    else source += ch.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
  }
  return new RegExp(source, 'u');
}

describe('compileShellPattern finds what the backtracking regexp finds', () => {
  const patterns = ['*', 'a*', '*a', 'a*b', '*a*', '*a*b', 'a?*b*', '?*?', '*ab*ba*', 'b*a?a*b', ''];
  const values: string[] = [''];
  for (let n = 1; n <= 6; n++) for (let i = 0; i < 3 ** n; i++) values.push(Array.from(i.toString(3).padStart(n, '0'), (d) => 'ab\n'[Number(d)]).join(''));
  test.each(patterns.flatMap((p) => [true, false].flatMap((greedy) => [true, false].map((anchored) => [p, greedy, anchored] as const))))(
    '%j greedy=%s anchored=%s',
    (pattern, greedy, anchored) => {
      const ours = compileShellPattern(pattern, greedy, anchored);
      const oracle = buildkitRegexp(pattern, greedy, anchored);
      const wrong = values.filter((v) => {
        const want = oracle.exec(v);
        const got = ours.exec(v);
        return (want === null) !== (got === null) || (want !== null && (want.index !== got?.index || want[0] !== got.text));
      });
      expect(wrong).toEqual([]);
    },
  );

  test('searches from an offset, counted in UTF-16 units', () => {
    expect(compileShellPattern('b*', true, false).exec('👽ab👽b', 2)).toEqual({ index: 3, text: 'b👽b' });
  });
});
