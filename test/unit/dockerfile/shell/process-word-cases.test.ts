import { describe, expect, test } from 'vitest';
import { ShellExpansionError, ShellLex } from '../../../../src/dockerfile/shell/index.js';
import { checkCase, loadExpectedFailures, loadProcessWordCases, show } from './buildkit-cases.js';

const cases = loadProcessWordCases().map((c) => ({
  ...c,
  name: `${c.key} ${c.source} ${show(c.input)} env=${JSON.stringify(c.env)} -> ${
    c.error ? `error${c.error_contains ? ` containing ${show(c.error_contains)}` : ''}` : show(c.expected ?? '')
  }`,
}));
const expectedFailures = loadExpectedFailures();

describe('BuildKit lex_test tables (ProcessWordWithMatches)', () => {
  const lex = new ShellLex('\\');

  test.each(cases)('$name', (c) => {
    checkCase(expectedFailures, c.key, () => {
      const env = new Map(Object.entries(c.env));
      if (c.error) {
        let caught: unknown;
        try {
          lex.processWordWithMatches(c.input, env);
        } catch (err) {
          caught = err;
        }
        expect(caught).toBeInstanceOf(ShellExpansionError);
        expect((caught as ShellExpansionError).code).toBe('SHELL_EXPANSION');
        if (c.error_contains !== undefined) {
          expect((caught as ShellExpansionError).message).toContain(c.error_contains);
        }
        return;
      }
      const got = lex.processWordWithMatches(c.input, env);
      expect(got.result).toBe(c.expected);
      // Upstream checks the sets only for TestProcessWithMatches successes.
      if (c.source === 'TestProcessWithMatches') {
        expect(got.matched).toEqual(new Set(c.matched));
        expect(got.unmatched).toEqual(new Set(c.unmatched));
      }
    });
  });
});

describe('conformance data', () => {
  test('is read in place from ../shared/conformance/buildkit-shell', async () => {
    const { DATA_DIR, dataPath } = await import('./buildkit-cases.js');
    expect(DATA_DIR.pathname.endsWith('/shared/conformance/buildkit-shell/')).toBe(true);
    expect(dataPath('envVarTest')).toMatch(/\/shared\/conformance\/buildkit-shell\/envVarTest$/);
  });

  test('has the line counts the data files hold', async () => {
    const { loadEnvVarCases, loadWordsCases } = await import('./buildkit-cases.js');
    const envVar = loadEnvVarCases();
    expect(envVar.filter((c) => c.platform !== 'W')).toHaveLength(228);
    expect(envVar.filter((c) => c.platform === 'W')).toHaveLength(2);
    expect(envVar.filter((c) => c.expected === '')).toHaveLength(57);
    const words = loadWordsCases();
    expect(words).toHaveLength(24);
    // ENV lines keep trailing spaces.
    expect(words.at(-1)?.env.get('trailing')).toBe('ab c   ');
  });

  test('has the transcribed table sizes SOURCE.md lists', () => {
    const bySource = new Map<string, number>();
    for (const c of cases) bySource.set(c.source, (bySource.get(c.source) ?? 0) + 1);
    expect(Object.fromEntries(bySource)).toEqual({
      TestProcessWithMatches: 47,
      TestShellParserMandatoryEnvVars: 6,
      TestProcessWithMatchesPlatform: 3,
    });
  });
});
