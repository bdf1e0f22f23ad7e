import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeBusyboxRootfs } from '../helpers/busybox-rootfs.js';
import { tempDir } from '../helpers/build.js';
import { buildCli, hoist } from '../helpers/cli.js';

describe('hoist build --snapshot', () => {
  let context: string;

  beforeAll(async () => {
    buildCli();
    context = tempDir('hoist-cli-snapshot-');
    await makeBusyboxRootfs(path.join(context, 'rootfs'));
    await mkdir(path.join(context, 'net'));
    await writeFile(path.join(context, 'net/hosts'), '127.0.0.1 localhost\n');
    await writeFile(path.join(context, 'net/resolv.conf'), 'nameserver 127.0.0.1\n');
    await writeFile(
      path.join(context, 'Dockerfile'),
      ['FROM scratch', 'COPY rootfs /', 'COPY net/ /etc/', 'RUN echo hi > /hi && rm /bin/ls && mkdir -p /a/b && chmod 4755 /hi', 'RUN rm -r /a && ln -s /hi /link'].join('\n'),
    );
  }, 300_000);

  function buildWith(snapshot: string): { status: number | null; stdout: string; stderr: string } {
    const out = tempDir('hoist-cli-snapshot-out-');
    return hoist(['build', context, '--snapshot', snapshot, '--progress', 'plain', '--output', `type=oci,dest=${path.join(out, 'image.tar')}`, '--cache-dir', path.join(out, 'cache')], {
      env: { SOURCE_DATE_EPOCH: '1700000000' },
    });
  }

  it('builds the same image with overlay and with walk, and says which it used', () => {
    const overlay = buildWith('overlay');
    expect(overlay.stderr).toContain('--snapshot overlay');
    expect(overlay.status).toBe(0);
    const walk = buildWith('walk');
    expect(walk.stderr).toContain('--snapshot walk');
    expect(walk.status).toBe(0);
    expect(overlay.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(walk.stdout.trim()).toBe(overlay.stdout.trim());
  }, 600_000);

  it('refuses an unknown snapshotter as a usage error', () => {
    const r = buildWith('zfs');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--snapshot "zfs" is not a snapshotter');
  });
});
