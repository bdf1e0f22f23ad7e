/** The registry cache from the command line: --cache-repo shared by two cache dirs, buildx's --cache-to/--cache-from, a cache registry that is down. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeBusyboxRootfs } from '../helpers/busybox-rootfs.js';
import { makeContext, tempDir } from '../helpers/build.js';
import { buildCliAsync, hoist } from '../helpers/cli.js';
import { freePort, startRegistry, type RunningRegistry } from '../helpers/registry/index.js';

interface Report {
  digest: string;
  steps: Array<{ instruction: string; cached?: boolean }>;
}

describe('hoist build --cache-repo', () => {
  let reg: RunningRegistry;
  let ctx: string;
  beforeAll(async () => {
    await buildCliAsync();
    reg = await startRegistry();
    ctx = makeContext({
      'a.txt': 'a',
      Dockerfile: ['FROM scratch AS base', 'COPY rootfs /', 'FROM base', 'COPY a.txt /a.txt', 'RUN date +%s%N > /stamp', 'LABEL done=yes'].join('\n'),
    });
    await makeBusyboxRootfs(path.join(ctx, 'rootfs'));
  }, 300_000);
  afterAll(async () => reg?.stop());

  function build(cacheDir: string, extra: string[]): { status: number | null; stderr: string; report: Report | undefined } {
    const out = tempDir('hoist-cli-regcache-out-');
    const r = hoist(['build', ctx, '--cache-dir', cacheDir, '--progress', 'plain', '-o', `type=oci-layout,dest=${path.join(out, 'layout')}`, '--metadata-file', path.join(out, 'meta.json'), ...extra]);
    const report = r.status === 0 ? (JSON.parse(readFileSync(path.join(out, 'meta.json'), 'utf8')) as Report) : undefined;
    return { status: r.status, stderr: r.stderr, report };
  }
  const fileSteps = (r: Report | undefined) => r?.steps.filter((s) => /^(COPY|RUN)/.test(s.instruction)).map((s) => s.cached === true);

  it('a second machine (another cache dir) hits every step through the registry, runs nothing, and gives the same image', () => {
    const first = build(tempDir('hoist-cli-regcache-'), ['--cache-repo', `${reg.host}/ci/cache`]);
    expect(first.status, first.stderr).toBe(0);
    expect(fileSteps(first.report)).toEqual([false, false, false]);
    const second = build(tempDir('hoist-cli-regcache-'), ['--cache-from', `type=registry,ref=${reg.host}/ci/cache`]);
    expect(second.status, second.stderr).toBe(0);
    expect(fileSteps(second.report)).toEqual([true, true, true]);
    expect(second.report?.digest).toBe(first.report?.digest);
    // The RUN (whose output is a timestamp) did not run again: no runner was even chosen.
    expect(second.stderr).not.toContain('RUN steps use --isolation');
  }, 300_000);

  it('buildx\'s --cache-to records; a cache registry that is down costs one warning, not the build', async () => {
    const cacheDir = tempDir('hoist-cli-regcache-');
    const port = await freePort();
    const down = build(cacheDir, ['--cache-to', `type=registry,ref=127.0.0.1:${port}/gone,mode=max`, '--cache-from', `type=registry,ref=127.0.0.1:${port}/gone`]);
    expect(down.status, down.stderr).toBe(0);
    expect(down.stderr.match(new RegExp(`cache repository 127\\.0\\.0\\.1:${port}/gone`, 'g'))).toHaveLength(1);
    const bad = build(cacheDir, ['--cache-to', 'type=local,dest=/tmp/x']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('hoist has no local cache');
  }, 300_000);
});
