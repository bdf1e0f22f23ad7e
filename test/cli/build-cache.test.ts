/** The build cache from the command line: on by default, CACHED in progress, --no-cache, --no-cache-filter, two processes on one cache dir. */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeBusyboxRootfs } from '../helpers/busybox-rootfs.js';
import { makeContext, tempDir } from '../helpers/build.js';
import { buildCliAsync, hoist, REPO_ROOT } from '../helpers/cli.js';

const CLI = fileURLToPath(new URL('../../dist/bin/hoist.cjs', import.meta.url));

let ctx: string;
beforeAll(async () => {
  await buildCliAsync();
  ctx = makeContext({
    'a.txt': 'a',
    Dockerfile: ['FROM scratch AS base', 'COPY rootfs /', 'FROM base', 'COPY a.txt /a.txt', 'RUN sleep 1; date +%s%N > /stamp', 'LABEL done=yes'].join('\n'),
  });
  await makeBusyboxRootfs(path.join(ctx, 'rootfs'));
}, 300_000);

interface Report {
  digest: string;
  layers: Array<{ digest: string }>;
  steps: Array<{ instruction: string; cached?: boolean }>;
}

function build(cacheDir: string, extra: string[] = []): { status: number | null; stderr: string; report: Report | undefined } {
  const out = tempDir('hoist-cli-cache-out-');
  const r = hoist(['build', ctx, '--cache-dir', cacheDir, '--progress', 'plain', '-o', `type=oci-layout,dest=${path.join(out, 'layout')}`, '--metadata-file', path.join(out, 'meta.json'), ...extra]);
  const report = r.status === 0 ? (JSON.parse(readFileSync(path.join(out, 'meta.json'), 'utf8')) as Report) : undefined;
  return { status: r.status, stderr: r.stderr, report };
}

const cachedCount = (r: Report | undefined): number => r?.steps.filter((s) => s.cached === true).length ?? -1;

describe('hoist build with the build cache', () => {
  it('is on by default and shows CACHED; --no-cache and --no-cache-filter (a comma list) turn lookups off', () => {
    const cache = tempDir('hoist-cli-cache-');
    const first = build(cache);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).not.toContain('CACHED');
    const second = build(cache);
    expect(second.status, second.stderr).toBe(0);
    expect(second.stderr.match(/CACHED/g)).toHaveLength(3);
    expect(cachedCount(second.report)).toBe(3);
    expect(second.report?.digest).toBe(first.report?.digest);
    const none = build(cache, ['--no-cache']);
    expect(none.status, none.stderr).toBe(0);
    expect(cachedCount(none.report)).toBe(0);
    // Kaniko's --cache=false is the same.
    expect(cachedCount(build(cache, ['--cache=false']).report)).toBe(0);
    const filtered = build(cache, ['--no-cache-filter', 'base,other', '--no-cache-filter', '9']);
    expect(filtered.status, filtered.stderr).toBe(0);
    // The base stage's COPY ran again and made the same layer: the steps on it still hit.
    expect(filtered.report?.steps.map((s) => [s.instruction, s.cached === true])).toEqual([
      ['FROM scratch AS base', false],
      ['COPY rootfs /', false],
      ['FROM base', false],
      ['COPY a.txt /a.txt', true],
      ['RUN sleep 1; date +%s%N > /stamp', true],
      ['LABEL done=yes', false],
    ]);
  }, 300_000);

  it('two hoist processes at once on one cache dir run the RUN step once and give the same image', async () => {
    const cache = tempDir('hoist-cli-cache-');
    const outs = [tempDir('hoist-cli-cache-out-'), tempDir('hoist-cli-cache-out-')];
    const run = (out: string) =>
      new Promise<Report>((resolve, reject) => {
        execFile(
          process.execPath,
          [CLI, 'build', ctx, '--cache-dir', cache, '-q', '-o', `type=oci-layout,dest=${path.join(out, 'layout')}`, '--metadata-file', path.join(out, 'meta.json')],
          { cwd: REPO_ROOT },
          (err, _stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(readFileSync(path.join(out, 'meta.json'), 'utf8')) as Report)),
        );
      });
    const [a, b] = await Promise.all(outs.map(run));
    const ranRun = (r: Report) => r.steps.filter((s) => s.instruction.startsWith('RUN') && s.cached !== true).length;
    expect(ranRun(a as Report) + ranRun(b as Report)).toBe(1);
    // The same layers (the image's time is each build's own when it ran a step).
    expect(a?.layers).toEqual(b?.layers);
  }, 300_000);
});
