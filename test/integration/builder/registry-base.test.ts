import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from '../../../src/builder/executor/build.js';
import { BlobStore, parseReference } from '../../../src/oci/index.js';
import { RegistryClient, RegistrySink, RegistrySource } from '../../../registry/index.js';
import { anonymousKeychain } from '../../../registry/keychain/index.js';
import { buildOptions, makeContext, tempDir } from '../../helpers/build.js';
import { flatten, readOciLayout } from '../../helpers/oci-reader.js';
import { AMD64 } from '../../helpers/plan.js';
import { startRegistry, type RunningRegistry } from '../../helpers/registry/index.js';

describe('FROM and COPY --from a registry image; --push', () => {
  let registry: RunningRegistry;
  let client: RegistryClient;
  let store: BlobStore;
  const ctx = makeContext({
    'passwd': 'root:x:0:0::/root:/bin/sh\napp:x:1001:1001::/home/app:/bin/sh\n',
    'group': 'root:x:0:\napp:x:1001:\n',
    'rootfs/tmp': { dir: true, mode: 0o1777 },
    'payload.txt': 'payload',
    'lib/libc.so': 'libc',
  });

  async function hoistBuild(dockerfile: string, tags: string[], push = false) {
    const out = path.join(tempDir('hoist-regbuild-'), 'layout');
    const result = await build(
      buildOptions(ctx, dockerfile, store, {
        images: new RegistrySource(client, { store, defaultPlatform: AMD64 }),
        push: push ? new RegistrySink(client) : undefined,
        outputs: [{ type: 'oci-layout', dest: out }],
        tags,
      }),
    );
    const image = await readOciLayout(out);
    return { result, image, files: flatten(image.layers) };
  }

  beforeAll(async () => {
    registry = await startRegistry();
    client = new RegistryClient({ keychain: anonymousKeychain() });
    store = new BlobStore(tempDir('hoist-regstore-'));
    const base = [
      'FROM scratch',
      'COPY passwd group /etc/',
      'COPY rootfs /',
      'COPY lib /usr/lib/',
      'ENV APP_HOME=/home/app PATH=/usr/bin:/bin',
      'LABEL base=yes',
      'ONBUILD LABEL triggered=$APP_HOME',
      'CMD ["/bin/sh"]',
    ].join('\n');
    await hoistBuild(base, [`${registry.host}/base:1`], true);
  });
  afterAll(async () => {
    await client?.close();
    await registry?.stop();
  });

  it('builds on a pushed image: its layers, config, ENV for expansion, passwd for --chown, and ONBUILD triggers', async () => {
    const { image, files } = await hoistBuild(
      [`FROM ${registry.host}/base:1`, 'WORKDIR $APP_HOME', 'COPY --chown=app:app payload.txt ./', 'COPY payload.txt /tmp/'].join('\n'),
      ['child:1'],
    );
    expect(image.config.config.WorkingDir).toBe('/home/app');
    expect(image.config.config.Labels).toEqual({ base: 'yes', triggered: '/home/app' });
    expect(image.config.config.OnBuild).toBeUndefined();
    expect(image.config.config.Cmd).toEqual(['/bin/sh']);
    expect(files.get('home/app/payload.txt')).toMatchObject({ uid: 1001, gid: 1001 });
    expect(files.get('etc/passwd')).toBeDefined();
    expect(files.get('tmp')?.mode).toBe(0o1777);
    expect(image.manifest.layers.length).toBe(3 + 3);
    expect(image.config.history.length).toBeGreaterThan(8);
  });

  it('COPY --from=<image> reads files out of a registry image', async () => {
    const { files } = await hoistBuild(`FROM scratch\nCOPY --from=${registry.host}/base:1 /usr/lib/libc.so /lib/\n`, ['c:1']);
    expect(files.get('lib/libc.so')?.content.toString()).toBe('libc');
  });

  it('--push writes every tag, and the pushed image reads back with the same digest', async () => {
    const tags = [`${registry.host}/pushed/app:1`, `${registry.host}/pushed/app:latest`];
    const { result } = await hoistBuild(`FROM ${registry.host}/base:1\nLABEL pushed=yes\n`, tags, true);
    for (const tag of tags) {
      const fetched = await client.getManifest(parseReference(tag));
      expect(fetched.digest).toBe(result.digest);
    }
  });

  it('an unknown base image fails with the FROM line and the reference', async () => {
    await expect(hoistBuild(`FROM ${registry.host}/nope:1\n`, ['x:1'])).rejects.toThrow(`${registry.host}/nope:1`);
  });
});
