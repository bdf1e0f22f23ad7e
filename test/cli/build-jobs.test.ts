/**
 * hoist build --jobs as a user runs it: the same digest one stage at a time
 * and several at once; a failing stage ends the build with exit 1 at its
 * line, the other stage's process killed and no scratch directory left;
 * a --jobs that is not a number is a usage error.
 */
import { readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeBusyboxRootfs } from '../helpers/busybox-rootfs.js';
import { tempDir } from '../helpers/build.js';
import { buildCliAsync, hoist } from '../helpers/cli.js';
import { processesRunning } from '../helpers/processes.js';


describe('hoist build --jobs', () => {
  let context: string;

  beforeAll(async () => {
    await buildCliAsync();
    context = tempDir('hoist-cli-jobs-');
    await makeBusyboxRootfs(path.join(context, 'rootfs'));
    const stages = ['FROM scratch AS base', 'COPY rootfs /', 'FROM base AS a', 'RUN echo a > /a', 'FROM base AS b', 'RUN echo b > /b', 'FROM scratch', 'COPY --from=a /a /a', 'COPY --from=b /b /b'];
    await writeFile(path.join(context, 'Dockerfile'), stages.join('\n'));
    await writeFile(
      path.join(context, 'Failing.Dockerfile'),
      [
        'FROM scratch AS base',
        'COPY rootfs /',
        'FROM base AS slow',
        'RUN --mount=type=cache,id=jobs,target=/shared touch /shared/slow && sleep 311',
        'FROM base AS bad',
        'RUN --mount=type=cache,id=jobs,target=/shared i=0; while [ ! -e /shared/slow ] && [ $i -lt 1800 ]; do sleep 0.1; i=$((i+1)); done; exit 4',
        'FROM scratch',
        'COPY --from=slow /etc/group /slow',
        'COPY --from=bad /etc/group /bad',
      ].join('\n'),
    );
  }, 300_000);

  it('gives the same digest with --jobs 1 and --jobs 3', () => {
    const digests = ['1', '3'].map((jobs) => {
      const out = tempDir('hoist-cli-jobs-out-');
      const r = hoist(['build', context, '--jobs', jobs, '--progress', 'plain', '--output', `type=oci-layout,dest=${path.join(out, 'layout')}`, '--cache-dir', path.join(out, 'cache')], {
        env: { SOURCE_DATE_EPOCH: '0' },
      });
      expect(r.stderr).not.toContain('ERROR');
      expect(r.status).toBe(0);
      return r.stdout.trim();
    });
    expect(digests[0]).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(digests[1]).toBe(digests[0]);
  }, 300_000);

  it('stops every stage when one fails: exit 1 at the failing line, no process or scratch directory left', async () => {
    const out = tempDir('hoist-cli-jobs-out-');
    const scratch = path.join(out, 'tmp');
    await mkdir(scratch);
    const started = Date.now();
    const r = hoist(
      ['build', context, '-f', path.join(context, 'Failing.Dockerfile'), '--jobs', '2', '--progress', 'plain', '--output', `type=oci-layout,dest=${path.join(out, 'layout')}`, '--cache-dir', path.join(out, 'cache')],
      { env: { TMPDIR: scratch }, timeoutMs: 280_000 },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/Failing\.Dockerfile:6: RUN .* failed with exit code 4/);
    // The slow stage's step shows as canceled, not as a second failure.
    expect(r.stderr).toMatch(/^#\d+ CANCELED$/m);
    expect(r.stderr.match(/^#\d+ ERROR/gm)).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(280_000);
    expect(processesRunning(['sleep', '311'])).toBe(0);
    expect(readdirSync(scratch)).toEqual([]);
  }, 300_000);

  it('refuses a --jobs that is not a whole number from 1, as a usage error', () => {
    const out = tempDir('hoist-cli-jobs-out-');
    for (const jobs of ['0', 'two', '-1', '1.5']) {
      const r = hoist(['build', context, `--jobs=${jobs}`, '--output', `type=oci-layout,dest=${path.join(out, 'layout')}`]);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`--jobs "${jobs}" is not a number of stages`);
    }
  });
});
