/**
 * Reads BuildKit's shell-lexer conformance data in place
 * (../shared/conformance/buildkit-shell, see its SOURCE.md), following the
 * rules of the upstream Go test loops: which lines are skipped, which fields
 * are trimmed and how.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const DATA_DIR = new URL('../../../../../shared/conformance/buildkit-shell/', import.meta.url);

function readData(name: string): string {
  return readFileSync(new URL(name, DATA_DIR), 'utf8');
}

export function dataPath(name: string): string {
  return fileURLToPath(new URL(name, DATA_DIR));
}

/** Lines as Go's bufio.Scanner yields them: split on \n, a trailing \r dropped. */
function scanLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
}

/** Go's strings.TrimSpace (Unicode White_Space, not JavaScript's \s). */
function goTrimSpace(text: string): string {
  return text.replace(/^\p{White_Space}+|\p{White_Space}+$/gu, '');
}

/** ProcessWord's fixed environment in TestShellParser4EnvVars. */
export const ENV_VAR_TEST_ENV: ReadonlyMap<string, string> = new Map([
  ['PWD', '/home'],
  ['SHELL', 'bash'],
  ['KOREAN', '한국어'],
  ['NULL', ''],
]);

export interface EnvVarCase {
  /** `envVarTest:LINE`, the key used in expected-failures.json. */
  key: string;
  platform: 'A' | 'U' | 'W';
  input: string;
  /** The result, or undefined when ProcessWord must fail. */
  expected: string | undefined;
}

export function loadEnvVarCases(): EnvVarCase[] {
  const cases: EnvVarCase[] = [];
  scanLines(readData('envVarTest')).forEach((raw, index) => {
    if (raw.startsWith('#')) return;
    const line = goTrimSpace(raw);
    if (line === '') return;
    const fields = line.split('|');
    if (fields.length !== 3) throw new Error(`envVarTest:${index + 1}: want 3 fields: ${raw}`);
    const [platform, input, expected] = fields.map(goTrimSpace) as [string, string, string];
    if (platform !== 'A' && platform !== 'U' && platform !== 'W') {
      throw new Error(`envVarTest:${index + 1}: bad platform ${platform}`);
    }
    cases.push({
      key: `envVarTest:${index + 1}`,
      platform,
      input,
      expected: expected === 'error' ? undefined : expected,
    });
  });
  return cases;
}

export interface WordsCase {
  key: string;
  input: string;
  /** The environment built from the ENV lines above this one. */
  env: ReadonlyMap<string, string>;
  /** The words, or undefined when ProcessWords must fail. */
  expected: string[] | undefined;
}

export function loadWordsCases(): WordsCase[] {
  const cases: WordsCase[] = [];
  const env = new Map<string, string>();
  scanLines(readData('wordsTest')).forEach((line, index) => {
    if (line.startsWith('#')) return;
    if (line.startsWith('ENV ')) {
      // Only leading spaces go: `ENV trailing=ab c   ` keeps its three.
      const entry = line.slice(3).replace(/^ +/, '');
      const eq = entry.indexOf('=');
      if (eq < 0) env.set(entry, '');
      else env.set(entry.slice(0, eq), entry.slice(eq + 1));
      return;
    }
    const fields = line.split('|');
    if (fields.length !== 2) throw new Error(`wordsTest:${index + 1}: want exactly one |: ${line}`);
    const [input, expected] = fields as [string, string];
    const words = expected.replace(/^ +/, '').split(',');
    cases.push({
      key: `wordsTest:${index + 1}`,
      input: goTrimSpace(input),
      env: new Map(env),
      expected: words.length === 1 && words[0] === 'error' ? undefined : words,
    });
  });
  return cases;
}

export interface ProcessWordCase {
  key: string;
  input: string;
  env: Record<string, string>;
  expected?: string;
  error?: boolean;
  error_contains?: string;
  matched?: string[];
  unmatched?: string[];
  source: 'TestProcessWithMatches' | 'TestShellParserMandatoryEnvVars' | 'TestProcessWithMatchesPlatform';
}

export function loadProcessWordCases(): ProcessWordCase[] {
  const raw = JSON.parse(readData('process-word-cases.json')) as Omit<ProcessWordCase, 'key'>[];
  return raw.map((c, index) => ({ ...c, key: `process-word-cases.json#${index}` }));
}

export interface ExpectedFailure {
  key: string;
  reason: string;
}

/** Cases known not to pass, each asserted to still fail (target: none). */
export function loadExpectedFailures(): ReadonlyMap<string, string> {
  const file = new URL('./expected-failures.json', import.meta.url);
  const list = JSON.parse(readFileSync(file, 'utf8')) as ExpectedFailure[];
  return new Map(list.map((f) => [f.key, f.reason]));
}

/** JSON.stringify keeps tabs, trailing spaces and backslashes visible in test names. */
export function show(text: string): string {
  return JSON.stringify(text);
}

/**
 * Runs one case's assertions; a case listed in expected-failures.json must
 * still fail, so that fixing it forces the list to shrink.
 */
export function checkCase(expectedFailures: ReadonlyMap<string, string>, key: string, assertions: () => void): void {
  if (!expectedFailures.has(key)) {
    assertions();
    return;
  }
  let passed = false;
  try {
    assertions();
    passed = true;
  } catch {
    // still failing, as listed
  }
  if (passed) throw new Error(`${key} is listed in expected-failures.json but now passes: remove it`);
}
