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
    expect(re.exec(value.slice(1))?.[0]).toBe(expected);
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
