import { describe, expect, test } from 'vitest';
import { ShellLex } from '../../../../src/dockerfile/shell/index.js';

const env = new Map([
  ['FOO', 'foo'],
  ['SPACED', 'a b'],
  ['EMPTY', ''],
]);

describe('default options', () => {
  const lex = new ShellLex();

  test.each([
    ['a "" b', ['a', 'b']],
    ['""', []],
    ["''x", ['x']],
    ['$EMPTY', []],
    ['$SPACED', ['a', 'b']],
    ['"$SPACED"', ['a b']],
    ['x${UNSET:-a b}y', ['xa', 'by']],
    ['x"${UNSET:-a b}"y', ['xa by']],
    ['pre${FOO#f}post', ['preoopost']],
    ['a\\ b c', ['a b', 'c']],
    [' \t lead and trail \t ', ['lead', 'and', 'trail']],
  ])('processWords(%j) -> %j', (word, expected) => {
    expect(lex.processWords(word, env)).toEqual(expected);
  });

  test('processWord keeps whitespace and does not split', () => {
    expect(lex.processWord('  $SPACED  ', env)).toBe('  a b  ');
  });

  test('processWordsWithMatches reports names like processWordWithMatches', () => {
    const got = lex.processWordsWithMatches('$FOO ${NOPE:-x} $EMPTY $1', env);
    expect(got.words).toEqual(['foo', 'x']);
    expect(got.matched).toEqual(new Set(['FOO', 'EMPTY']));
    expect(got.unmatched).toEqual(new Set(['NOPE', '1']));
  });

  test('names are case-sensitive (Unix)', () => {
    expect(lex.processWordWithMatches('$foo|$FOO', env)).toEqual({
      result: '|foo',
      matched: new Set(['FOO']),
      unmatched: new Set(['foo']),
    });
  });

  test('a lexer can be reused; calls share no state', () => {
    expect(lex.processWordWithMatches('$FOO', env).matched).toEqual(new Set(['FOO']));
    expect(lex.processWordWithMatches('$BAR', env).matched).toEqual(new Set());
  });

  test('names are letters, digits and _ in any script; a leading BOM is ignored', () => {
    const unicodeEnv = new Map([['변수', 'v'], ['_x1', 'y']]);
    expect(lex.processWord('$변수-$_x1.', unicodeEnv)).toBe('v-y.');
    expect(lex.processWord('\uFEFFa\uFEFF', env)).toBe('a\uFEFF');
  });
});

describe('rawQuotes', () => {
  const lex = new ShellLex('\\', { rawQuotes: true });

  test('keeps quote characters but still groups words', () => {
    expect(lex.processWord(`'a $FOO'"b $FOO"`, env)).toBe(`'a $FOO'"b foo"`);
    expect(lex.processWords(`'a b' "c d" e`, env)).toEqual([`'a b'`, `"c d"`, 'e']);
  });
});

describe('rawEscapes', () => {
  const lex = new ShellLex('\\', { rawEscapes: true });

  test('keeps escape characters in front of what they escape', () => {
    expect(lex.processWord('a\\ b\\$FOO\\', env)).toBe('a\\ b\\$FOO\\');
    expect(lex.processWords('a\\ b c', env)).toEqual(['a\\ b', 'c']);
  });

  test('inside double quotes, like BuildKit, an escape before an ordinary character doubles', () => {
    expect(lex.processWord('"\\$FOO"', env)).toBe('\\$FOO');
    expect(lex.processWord('"\\t"', env)).toBe('\\\\t');
  });

  test('applies only at the top level: ${VAR:-word} drops escapes as usual', () => {
    expect(lex.processWord('${UNSET:-\\$x}', env)).toBe('$x');
  });
});

describe('skipProcessQuotes', () => {
  const lex = new ShellLex('\\', { skipProcessQuotes: true });

  test('treats quotes as ordinary characters', () => {
    expect(lex.processWord(`'$FOO' "$FOO"`, env)).toBe(`'foo' "foo"`);
    expect(lex.processWords(`"a b"`, env)).toEqual(['"a', 'b"']);
    expect(lex.processWord(`it's`, env)).toBe(`it's`);
  });
});

describe('skipUnsetEnv', () => {
  const lex = new ShellLex('\\', { skipUnsetEnv: true });

  test('leaves references to unset variables as written', () => {
    expect(lex.processWord('$U ${U} ${U:-d} ${U-d} ${U:+a} ${U?m} ${U:?m} ${U#p} ${U%%p} ${U/a/b} $1 $@', env)).toBe(
      '$U ${U} ${U:-d} ${U-d} ${U:+a} ${U?m} ${U:?m} ${U#p} ${U%%p} ${U/a/b} $1 $@',
    );
  });

  test('writes an unset ${U//a/b} back with one slash, as BuildKit does', () => {
    expect(lex.processWord('${U//a/b}', env)).toBe('${U/a/b}');
  });

  test('still expands set variables, including inside kept references', () => {
    expect(lex.processWord('$FOO ${EMPTY:-d} ${U:-$FOO}', env)).toBe('foo d ${U:-foo}');
  });

  test('reports the unset names', () => {
    expect(lex.processWordWithMatches('$U$FOO', env).unmatched).toEqual(new Set(['U']));
  });
});

describe('backtick escape (# escape=`)', () => {
  const lex = new ShellLex('`');

  test('backslash is literal and backtick escapes', () => {
    expect(lex.processWord('C:\\path\\$FOO', env)).toBe('C:\\path\\foo');
    expect(lex.processWord('a`$FOO` b', env)).toBe('a$FOO b');
    expect(lex.processWords('a` b c', env)).toEqual(['a b', 'c']);
    expect(lex.processWord('trailing`', env)).toBe('trailing');
  });

  test('inside double quotes backtick escapes " $ and itself only', () => {
    expect(lex.processWord('"a`"b`$c``d`e\\"', env)).toBe('a"b$c`d`e\\');
  });

  test('patterns still use \\ for their own escapes', () => {
    const starEnv = new Map([['S', '*x*']]);
    expect(lex.processWord('${S#\\*}', starEnv)).toBe('x*');
  });

  test('rejects any other escape token', () => {
    expect(() => new ShellLex('x' as '\\')).toThrow(TypeError);
  });
});
