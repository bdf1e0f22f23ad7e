import { describe, expect, test } from 'vitest';
import { HoistError } from '../../../../src/errors.js';
import { ShellExpansionError, ShellLex } from '../../../../src/dockerfile/shell/index.js';

const env = new Map([
  ['PWD', '/home'],
  ['NULL', ''],
  ['BAD_TRAILING', 'a\\'],
  ['BAD_SUFFIX', 'ab\\'],
]);

function failure(word: string, lex = new ShellLex()): ShellExpansionError {
  try {
    lex.processWord(word, env);
  } catch (err) {
    if (err instanceof ShellExpansionError) return err;
    throw err;
  }
  throw new Error(`${word} expanded without error`);
}

describe('error messages match BuildKit', () => {
  test.each([
    [`he'llo`, 'unexpected end of statement while looking for matching single-quote'],
    ['"hello', 'unexpected end of statement while looking for matching double-quote'],
    ['${}', 'syntax error: bad substitution'],
    ['${:-x}', 'syntax error: bad substitution'],
    ['${{x}', 'syntax error: bad substitution'],
    ['${', "syntax error: missing '}'"],
    ['${aaa:-bbb', "syntax error: missing '}'"],
    ['${aaa:-bbb ${foo}', "syntax error: missing '}'"],
    ["${aaa:-'bbb}", "syntax error: missing '}'"],
    ['${aaa:', "syntax error: missing '}'"],
    // BuildKit shows the end of input as U+FFFD here.
    ['he${PWD', 'unsupported modifier (\uFFFD) in substitution'],
    ['${PWD:=000}', 'unsupported modifier (:=) in substitution'],
    ['${PWD=000}', 'unsupported modifier (=) in substitution'],
    ['${PWD:YYY}', 'unsupported modifier (:Y) in substitution'],
    ['${.}', 'unsupported modifier (.) in substitution'],
    ['${#PWD}', 'unsupported modifier (P) in substitution'],
    ['${PWD:#x}', 'unsupported modifier (:#) in substitution'],
    ['${PWD:%%x}', 'unsupported modifier (:%) in substitution'],
    ['${XXX?}', 'XXX: is not allowed to be unset'],
    ['${XXX:?}', 'XXX: is not allowed to be unset'],
    ['${NULL:?}', 'NULL: is not allowed to be empty'],
    ['${XXX?need $PWD}', 'XXX: need /home'],
    ['${NULL:?need it}', 'NULL: need it'],
    ['${PWD//ww}', "syntax error: missing '/' in ${}"],
    ['${PWD/a/b', "syntax error: missing '}'"],
    ['${PWD#\\x}', "invalid pattern (\\x) in substitution: invalid escape '\\x'"],
    ['${PWD/\\a/b}', "invalid pattern (\\a) in substitution: invalid escape '\\a'"],
    ['${PWD#$BAD_TRAILING}', "invalid pattern (a\\) in substitution: invalid escape '\\\uFFFD'"],
    // A suffix pattern is reversed before it is compiled, and the message shows it reversed.
    ['${PWD%$BAD_SUFFIX}', "invalid pattern (\\ba) in substitution: invalid escape '\\b'"],
  ])('%s -> %s', (word, reason) => {
    const err = failure(word);
    expect(err.reason).toBe(reason);
    expect(err.word).toBe(word);
    expect(err.message).toBe(`failed to process ${JSON.stringify(word)}: ${reason}`);
  });

  test('is a HoistError with code SHELL_EXPANSION', () => {
    const err = failure('${}');
    expect(err).toBeInstanceOf(HoistError);
    expect(err.code).toBe('SHELL_EXPANSION');
    expect(err.name).toBe('ShellExpansionError');
  });

  test('quotes the word the way Go %q does', () => {
    expect(failure('"a\tb\\\n\x1b\u0085é').message).toBe(
      'failed to process "\\"a\\tb\\\\\\n\\x1b\\u0085é": unexpected end of statement while looking for matching double-quote',
    );
  });

  test('processWords fails the same way', () => {
    expect(() => new ShellLex().processWords('a ${', env)).toThrow(
      `failed to process "a \${": syntax error: missing '}'`,
    );
  });

  test('with skipUnsetEnv an unset ${X?} is kept, not an error', () => {
    expect(new ShellLex('\\', { skipUnsetEnv: true }).processWord('${X?}', env)).toBe('${X?}');
    expect(failure('${NULL:?}', new ShellLex('\\', { skipUnsetEnv: true })).reason).toBe(
      'NULL: is not allowed to be empty',
    );
  });
});
