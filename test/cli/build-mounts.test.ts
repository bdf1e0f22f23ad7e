import { writeFileSync } from 'node:fs';
/**
 * hoist build --secret and --ssh as a user runs them: a secret from a file
 * and one from an environment variable reach the step and nothing else
 * (the image's blobs, the progress output, the metadata file), and the
 * mistakes a user makes are said plainly.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeBusyboxRootfs } from '../helpers/busybox-rootfs.js';
import { tempDir } from '../helpers/build.js';
import { buildCli, hoist } from '../helpers/cli.js';

const FILE_SECRET = 'file-secret-5e1b7a90c3';
const ENV_SECRET = 'env-secret-a8d2f61e47';

describe('hoist build --secret / --ssh', () => {
  let context: string;

  beforeAll(async () => {
    buildCli();
    context = tempDir('hoist-cli-mounts-');
    await makeBusyboxRootfs(path.join(context, 'rootfs'));
    await writeFile(
      path.join(context, 'Dockerfile'),
      [
        'FROM scratch',
        'COPY rootfs /',
        'RUN --mount=type=secret,id=npmrc --mount=type=secret,id=tok,env=TOKEN \\',
        '  sha256sum /run/secrets/npmrc | cut -d" " -f1 > /a; printf %s "$TOKEN" | sha256sum | cut -d" " -f1 > /b; echo step-ran',
      ].join('\n'),
    );
  }, 300_000);

  it('gives the step a file secret and an env= secret, and neither reaches a blob, the output or the metadata file', async () => {
    const out = tempDir('hoist-cli-mounts-out-');
    const secretFile = path.join(out, 'npmrc');
    await writeFile(secretFile, FILE_SECRET);
    const layout = path.join(out, 'layout');
    const metadata = path.join(out, 'metadata.json');
    const r = hoist(
      ['build', context, '--secret', `id=npmrc,src=${secretFile}`, '--secret', 'id=tok,env=HOIST_TEST_TOKEN', '--progress', 'plain', '--metadata-file', metadata, '--output', `type=oci-layout,dest=${layout}`, '--cache-dir', path.join(out, 'cache')],
      { env: { HOIST_TEST_TOKEN: ENV_SECRET } },
    );
    expect(r.stderr).toContain('step-ran');
    expect(r.status).toBe(0);
    for (const text of [r.stdout, r.stderr, await readFile(metadata, 'utf8')]) {
      expect(text).not.toContain(FILE_SECRET);
      expect(text).not.toContain(ENV_SECRET);
    }
    const blobs = path.join(layout, 'blobs', 'sha256');
    const texts: string[] = [];
    for (const name of await readdir(blobs)) {
      const data = await readFile(path.join(blobs, name));
      texts.push((data[0] === 0x1f && data[1] === 0x8b ? gunzipSync(data) : data).toString('latin1'));
    }
    const all = texts.join('\n');
    expect(all).not.toContain(FILE_SECRET);
    expect(all).not.toContain(ENV_SECRET);
    // The step saw both: their digests are in the layer.
    const sum = (s: string): string => createHash('sha256').update(s).digest('hex');
    expect(all).toContain(sum(FILE_SECRET));
    expect(all).toContain(sum(ENV_SECRET));
  }, 600_000);

  it('warns when an env= secret\'s variable is not set: the build has no such secret (as buildx), and says why', () => {
    const out = tempDir('hoist-cli-mounts-out-');
    const npmrc = path.join(out, 'npmrc');
    writeFileSync(npmrc, FILE_SECRET);
    const r = hoist(['build', context, '--secret', `id=npmrc,src=${npmrc}`, '--secret', 'id=tok,env=HOIST_TEST_UNSET', '--progress', 'plain', '--output', `type=oci-layout,dest=${path.join(out, 'l')}`, '--cache-dir', path.join(out, 'cache')]);
    expect(r.stderr).toContain('warning: --secret id=tok: the variable HOIST_TEST_UNSET is not set, so the build has no secret "tok"');
  }, 600_000);

  it('says plainly when --ssh default has no agent, and when --secret has no id', () => {
    const out = tempDir('hoist-cli-mounts-out-');
    const ssh = hoist(['build', context, '--ssh', 'default', '--output', `type=oci-layout,dest=${path.join(out, 'l')}`], { env: { SSH_AUTH_SOCK: '' } });
    expect(ssh.status).toBe(2);
    expect(ssh.stderr).toContain('SSH_AUTH_SOCK is not set');
    const secret = hoist(['build', context, '--secret', 'src=/etc/hostname', '--output', `type=oci-layout,dest=${path.join(out, 'l')}`]);
    expect(secret.status).toBe(2);
    expect(secret.stderr).toContain('has no id');
  });
});
