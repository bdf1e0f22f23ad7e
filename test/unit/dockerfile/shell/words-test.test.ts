import { describe, expect, test } from 'vitest';
import { ShellExpansionError, ShellLex } from '../../../../src/dockerfile/shell/index.js';
import { checkCase, loadExpectedFailures, loadWordsCases, show } from './buildkit-cases.js';

const cases = loadWordsCases().map((c) => ({
  ...c,
  name: `${c.key} ${show(c.input)} -> ${c.expected === undefined ? 'error' : JSON.stringify(c.expected)}`,
}));
const expectedFailures = loadExpectedFailures();

describe('BuildKit wordsTest (ProcessWords)', () => {
  const lex = new ShellLex('\\');

  test.each(cases)('$name', ({ key, input, env, expected }) => {
    checkCase(expectedFailures, key, () => {
      if (expected === undefined) {
        expect(() => lex.processWords(input, env)).toThrow(ShellExpansionError);
      } else {
        expect(lex.processWords(input, env)).toEqual(expected);
      }
    });
  });
});
