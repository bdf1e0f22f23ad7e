import { describe, expect, test } from 'vitest';
import { ShellExpansionError, ShellLex } from '../../../../src/dockerfile/shell/index.js';
import { checkCase, ENV_VAR_TEST_ENV, loadEnvVarCases, loadExpectedFailures, show } from './buildkit-cases.js';

// A Unix builder runs the A (all platforms) and U (Unix only) lines.
const cases = loadEnvVarCases()
  .filter((c) => c.platform !== 'W')
  .map((c) => ({
    ...c,
    name: `${c.key} ${show(c.input)} -> ${c.expected === undefined ? 'error' : show(c.expected)}`,
  }));
const expectedFailures = loadExpectedFailures();

describe('BuildKit envVarTest (ProcessWord)', () => {
  const lex = new ShellLex('\\');

  test.each(cases)('$name', ({ key, input, expected }) => {
    checkCase(expectedFailures, key, () => {
      if (expected === undefined) {
        expect(() => lex.processWord(input, ENV_VAR_TEST_ENV)).toThrow(ShellExpansionError);
      } else {
        expect(lex.processWord(input, ENV_VAR_TEST_ENV)).toBe(expected);
      }
    });
  });
});
