import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/build.js';
import { buildCli, hoist } from '../helpers/cli.js';

const CONTEXT = 'testdata/examples/hello';
const DOCKERFILE = path.join(CONTEXT, 'Dockerfile');

describe('hoist build --progress', () => {
  beforeAll(buildCli);

  function run(...flags: string[]) {
    const out = tempDir('hoist-cli-progress-');
    return hoist(['build', CONTEXT, '--output', `type=oci,dest=${path.join(out, 'img.tar')}`, '--cache-dir', path.join(out, 'cache'), ...flags], {
      env: { SOURCE_DATE_EPOCH: '1700000000', NO_COLOR: '' },
    });
  }

  it('plain: one numbered line per step with its Dockerfile line, then DONE, and no control codes', () => {
    const r = run('--progress', 'plain');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(r.stderr).not.toMatch(/\x1b/);
    const headers = r.stderr.split('\n').filter((l) => /^#\d+ \[/.test(l));
    // the hello example builds stages `assets` (4 steps) and the final one (10); `docs` is not needed
    expect(headers).toHaveLength(14);
    expect(headers[0]).toBe(`#1 [assets 1/4] FROM scratch AS assets (${DOCKERFILE}:6)`);
    expect(headers[3]).toBe(`#4 [assets 4/4] COPY greeting.txt /srv/ (${DOCKERFILE}:9)`);
    expect(headers[13]).toBe(`#14 [stage-2 10/10] CMD ["cat", "/srv/app/greeting.txt"] (${DOCKERFILE}:26)`);
    for (let n = 1; n <= 14; n++) expect(r.stderr).toMatch(new RegExp(`^#${n} DONE \\d+\\.\\ds$`, 'm'));
    expect(r.stderr).toMatch(/^#4 layer sha256:[0-9a-f]{12} \d+B$/m);
    expect(r.stderr).toMatch(/^#15 exporting to oci .*img\.tar$/m);
  });

  it('a pipe gets plain progress by default', () => {
    const r = run();
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^#1 \[assets 1\/4\] FROM/m);
    expect(r.stderr).not.toMatch(/\x1b/);
  });

  it('json: every line of stderr is an event', () => {
    const r = run('--progress', 'json');
    expect(r.status).toBe(0);
    const events = r.stderr.trim().split('\n').map((l) => JSON.parse(l) as { type: string; step?: number; location?: { line: number } });
    const starts = events.filter((e) => e.type === 'step-start');
    expect(starts).toHaveLength(14);
    expect(starts.map((e) => e.location?.line)).toEqual([6, 7, 8, 9, 14, 15, 16, 18, 19, 20, 23, 24, 25, 26]);
    expect(events.filter((e) => e.type === 'step-done')).toHaveLength(14);
    expect(events.at(-1)?.type).toBe('output-done');
  });

  it('-q and --progress quiet print only the digest', () => {
    for (const flag of [['-q'], ['--quiet'], ['--progress', 'quiet']]) {
      const r = run(...flag);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
      expect(r.stderr).toBe('');
    }
  });

  it('refuses an unknown mode as a usage error', () => {
    const r = run('--progress', 'fancy');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--progress "fancy": not a progress mode');
  });

  it('a failing step is marked in the log and the error follows', () => {
    const out = tempDir('hoist-cli-progress-fail-');
    const r = hoist(['build', CONTEXT, '-f', '-', '--progress', 'plain', '--output', `type=oci,dest=${path.join(out, 'x.tar')}`, '--cache-dir', path.join(out, 'c')], {
      input: 'FROM scratch\nCOPY nope.txt /\n',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('#2 [2/2] COPY nope.txt / (-:2)');
    expect(r.stderr).toMatch(/^#2 ERROR: -:2: COPY: source "nope.txt" not found/m);
    expect(r.stderr).toMatch(/^error: -:2: COPY: source "nope.txt" not found/m);
  });
});
