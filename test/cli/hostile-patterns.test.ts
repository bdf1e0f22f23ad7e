/**
 * .dockerignore patterns and shell patterns written to make a backtracking
 * matcher take exponential time (issue 11). Go's regexp (RE2) is linear, so Docker
 * answers these at once; so must hoist. Each case runs the built matcher in
 * a child process with a deadline: matching is synchronous, so in-process a
 * regression would hang the suite instead of failing it. The bound is
 * generous for a noisy 2-core machine: a linear matcher needs milliseconds,
 * the backtracking one needed 67 s for 9 stars.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';
import { makeContext } from '../helpers/build.js';
import { buildCli, hoist } from '../helpers/cli.js';

const MATCHER = fileURLToPath(new URL('../../dist/src/dockerfile/ignore/index.js', import.meta.url));
const DEADLINE_MS = 20_000;

/** matchesOrParentMatches(path) for each path, in a child process that is killed at the deadline. */
function matchInChild(patterns: string[], paths: string[]): { results: boolean[] | null; ms: number } {
  const script = `
    import { PatternMatcher } from ${JSON.stringify(MATCHER)};
    const { patterns, paths } = JSON.parse(process.argv[1]);
    const matcher = PatternMatcher.compile(patterns);
    process.stdout.write(JSON.stringify(paths.map((p) => matcher.matchesOrParentMatches(p))));
  `;
  const start = performance.now();
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, JSON.stringify({ patterns, paths })], {
    encoding: 'utf8',
    timeout: DEADLINE_MS,
    killSignal: 'SIGKILL',
  });
  const ms = performance.now() - start;
  return { results: r.status === 0 ? (JSON.parse(r.stdout) as boolean[]) : null, ms };
}

const many = (unit: string, n: number): string => unit.repeat(n);

const cases: { name: string; pattern: string; path: string; want: boolean }[] = [
  { name: '10 stars in one segment, no match', pattern: `${many('*a', 10)}b`, path: many('a', 200), want: false },
  { name: '10 stars in one segment, match', pattern: `${many('*a', 10)}b`, path: `${many('a', 199)}b`, want: true },
  { name: '20 stars in one segment, no match', pattern: `${many('*a', 20)}b`, path: many('a', 200), want: false },
  { name: '25 "**/" segments, no match', pattern: `a/${many('**/', 25)}b`, path: `a/${many('x/', 99)}c`, want: false },
  { name: '25 "**/" segments, match', pattern: `a/${many('**/', 25)}b`, path: `a/${many('x/', 98)}b`, want: true },
  { name: '"**" glued to letters, no match', pattern: `a${many('**a', 12)}b`, path: many('a/', 100), want: false },
  { name: 'stars and "**" mixed, no match', pattern: `${many('*/**/', 8)}*b`, path: many('a/', 100), want: false },
  { name: 'question marks and stars, no match', pattern: `${many('?*', 15)}b`, path: many('a', 200), want: false },
];

describe('hostile .dockerignore patterns are matched in bounded time', () => {
  beforeAll(buildCli);

  test.each(cases)('$name', ({ pattern, path, want }) => {
    // matchesOrParentMatches also tests every parent directory of the path.
    const { results, ms } = matchInChild([pattern], [path]);
    expect(results).toEqual([want]);
    expect(ms).toBeLessThan(DEADLINE_MS);
  });

  test('a whole ignore file of hostile lines against many deep paths', () => {
    const paths = Array.from({ length: 200 }, (_, i) => `${many('a/', 40 + (i % 20))}${many('a', 100)}${i}`);
    const { results } = matchInChild(
      cases.map((c) => c.pattern),
      paths,
    );
    expect(results).toHaveLength(paths.length);
  });
});

describe('hostile shell patterns in ${VAR#...}, ${VAR%...} and ${VAR/...} are matched in bounded time', () => {
  beforeAll(buildCli);

  test.each(['#', '##', '%', '%%', '/', '//'])('${V%s<20 stars>}', (op) => {
    const pattern = `${many('*a', 20)}b${op.startsWith('/') ? '/x' : ''}`;
    const context = makeContext({ Dockerfile: `FROM scratch\nARG V=${many('a', 200)}\nLABEL x="\${V${op}${pattern}}"\n` });
    const r = hoist(['plan', context], { timeoutMs: DEADLINE_MS });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // Nothing matches (there is no "b"), so the value is unchanged.
    expect(r.stdout).toContain(many('a', 200));
  });
});
