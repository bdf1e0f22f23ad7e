/**
 * Base images and the build cache: a FROM pinned by digest that the store
 * holds needs no registry, a tag is re-checked with one HEAD request, and a
 * tag that moved to another image makes the steps on it miss.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from '../../../src/builder/executor/build.js';
import { localStepCache } from '../../../src/builder/executor/local-cache.js';
import { storedBasesSource } from '../../../src/images/stored-bases.js';
import { BlobStore, type Reference } from '../../../src/oci/index.js';
import { RegistryClient, RegistrySink, RegistrySource } from '../../../registry/index.js';
import { anonymousKeychain } from '../../../registry/keychain/index.js';
import { buildOptions, makeContext, tempDir } from '../../helpers/build.js';
import { flatten, readOciLayout } from '../../helpers/oci-reader.js';
import { AMD64 } from '../../helpers/plan.js';
import { startFaultProxy, startRegistry, type FaultProxy, type RunningRegistry } from '../../helpers/registry/index.js';

describe('build cache: base images', () => {
  let registry: RunningRegistry;
  let proxy: FaultProxy;
  let client: RegistryClient;
  let host: string;
  const ctx = makeContext({ 'base.txt': 'base one', 'app.txt': 'app' });

  async function hoistBuild(dockerfile: string, cacheDir: string, opts: { push?: string } = {}) {
    const store = new BlobStore(cacheDir);
    const out = path.join(tempDir('hoist-basecache-out-'), 'layout');
    const images = storedBasesSource(new RegistrySource(client, { store, defaultPlatform: AMD64 }), {
      store,
      headDigest: async (ref: Reference) => (await client.headManifest(ref))?.digest,
    });
    const result = await build(
      buildOptions(ctx, dockerfile, store, {
        images,
        push: opts.push === undefined ? undefined : new RegistrySink(client),
        outputs: [{ type: 'oci-layout', dest: out }],
        tags: [opts.push ?? 'app:1'],
        cache: await localStepCache(store),
      }),
    );
    const image = await readOciLayout(out);
    const cached = result.report.steps.filter((s) => !s.instruction.startsWith('FROM')).map((s) => s.cached === true);
    return { result, files: flatten(image.layers), cached };
  }

  beforeAll(async () => {
    registry = await startRegistry();
    proxy = await startFaultProxy(registry.url);
    host = proxy.host;
    client = new RegistryClient({ keychain: anonymousKeychain() });
  });
  afterAll(async () => {
    await client?.close();
    await proxy?.stop();
    await registry?.stop();
  });

  it('a pinned base in the store needs no registry; a tag costs one HEAD; a moved tag misses', async () => {
    const pushed = await hoistBuild(['FROM scratch', 'COPY base.txt /base.txt'].join('\n'), tempDir('hoist-basecache-'), { push: `${host}/base:1` });
    const cache = tempDir('hoist-basecache-');
    const byTag = [`FROM ${host}/base:1`, 'COPY app.txt /app.txt'].join('\n');
    const first = await hoistBuild(byTag, cache);
    expect(first.cached).toEqual([false]);

    proxy.resetHits();
    const second = await hoistBuild(byTag, cache);
    expect(second.cached).toEqual([true]);
    expect(second.result.digest).toBe(first.result.digest);
    expect(proxy.requests().map((r) => `${r.method} ${r.url}`)).toEqual(['HEAD /v2/base/manifests/1']);

    const byDigest = [`FROM ${host}/base@${pushed.result.digest}`, 'COPY app.txt /app.txt'].join('\n');
    proxy.resetHits();
    const pinned = await hoistBuild(byDigest, cache);
    expect(proxy.hits()).toBe(0);
    expect(pinned.cached).toEqual([true]);

    // The tag moves to another image: the steps on it miss, and read the new base.
    await hoistBuild(['FROM scratch', 'COPY app.txt /base.txt'].join('\n'), tempDir('hoist-basecache-'), { push: `${host}/base:1` });
    const moved = await hoistBuild(byTag, cache);
    expect(moved.cached).toEqual([false]);
    expect(moved.files.get('base.txt')?.content?.toString()).toBe('app');

    await proxy.stop();
    await registry.stop();
    const offline = await hoistBuild(byDigest, cache);
    expect(offline.cached).toEqual([true]);
    expect(offline.result.digest).toBe(pinned.result.digest);
    expect(offline.files.get('base.txt')?.content?.toString()).toBe('base one');
  }, 120_000);
});
