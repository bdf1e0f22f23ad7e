/**
 * Push and pull against a real distribution registry (no auth): what hoist
 * pushes comes back byte-identical; what an independent pusher wrote, hoist
 * reads (indexes resolved to a platform, Docker media types); tags paginate;
 * a second repository gets cross-repository mounts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RegistryClient, RegistrySink, RegistrySource } from '../../../registry/index.js';
import { anonymousKeychain } from '../../../registry/keychain/index.js';
import { BlobStore, MediaType, parseReference, type Digest, type GrowingBlob } from '../../../src/oci/index.js';
import type { TransferProgress } from '../../../src/oci/progress.js';
import { pushTestImage, startFaultProxy, startRegistry, type FaultProxy, type RunningRegistry } from '../../helpers/registry/index.js';
import { makeImage, readAll } from './images.js';
import { build } from '../../../src/builder/executor/build.js';
import { localStepCache } from '../../../src/builder/executor/local-cache.js';
import { RegistryStepStore } from '../../../src/builder/cache/registry-store.js';
import type { StepCacheSettings } from '../../../src/builder/executor/local-cache.js';
import type { Reference } from '../../../src/oci/index.js';
import { buildOptions, makeContext } from '../../helpers/build.js';

let reg: RunningRegistry;
let dir: string;
const clients: RegistryClient[] = [];

function client(opts: Partial<ConstructorParameters<typeof RegistryClient>[0]> = {}): RegistryClient {
  const c = new RegistryClient({ keychain: anonymousKeychain(), retry: { baseDelayMs: 10, maxDelayMs: 50 }, ...opts });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  reg = await startRegistry();
  dir = await mkdtemp(join(tmpdir(), 'hoist-push-pull-'));
});
afterAll(async () => {
  for (const c of clients) await c.close();
  await reg?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('push then pull', () => {
  test('an image built from parts round-trips with equal digests and bytes', async () => {
    const { img, layers } = await makeImage('round-trip', 200_000);
    const ref = parseReference(`${reg.host}/hoist/round-trip:v1`);
    const digest = await new RegistrySink(client()).write(img, [ref, ref.withTag('latest')]);
    expect(digest).toBe(await img.digest());

    const store = new BlobStore(join(dir, 'store1'));
    const pulled = await new RegistrySource(client(), { store }).image(ref);
    expect(await pulled.digest()).toBe(digest);
    expect((await pulled.rawManifest()).equals(await img.rawManifest())).toBe(true);
    expect((await pulled.rawConfigFile()).equals(await img.rawConfigFile())).toBe(true);
    const pulledLayers = await pulled.layers();
    expect(pulledLayers).toHaveLength(2);
    for (const [i, l] of pulledLayers.entries()) {
      expect(await l.digest()).toBe(await layers[i]!.layer.digest());
      expect((await readAll(await l.compressed())).equals(layers[i]!.gz)).toBe(true);
      expect((await readAll(await l.uncompressed())).equals(layers[i]!.tar)).toBe(true);
    }
    expect(await client().listTags(ref)).toEqual(['latest', 'v1']);
    const head = await client().headManifest(ref.withTag('latest'));
    expect(head).toEqual({ mediaType: MediaType.OciManifest, digest, size: (await img.rawManifest()).length });
  });

  test('a Docker-family image keeps its media types', async () => {
    const { img } = await makeImage('docker-family', 100, 'docker');
    const ref = parseReference(`${reg.host}/hoist/docker-family:1`);
    await new RegistrySink(client()).write(img, [ref]);
    const got = await client().getManifest(ref);
    expect(got.mediaType).toBe(MediaType.DockerManifest);
    expect(got.digest).toBe(await img.digest());
  });

  test('pushing again uploads nothing (HEAD finds every blob)', async () => {
    const { img } = await makeImage('again', 5000);
    const ref = parseReference(`${reg.host}/hoist/again:1`);
    await new RegistrySink(client()).write(img, [ref]);
    const proxy = await startFaultProxy(reg.url);
    try {
      const c = client();
      await new RegistrySink(c).write(img, [parseReference(`${proxy.host}/hoist/again:2`)]);
      const methods = proxy.requests().map((r) => r.method);
      expect(methods.filter((m) => m === 'POST' || m === 'PATCH')).toEqual([]);
      expect(methods.filter((m) => m === 'PUT')).toHaveLength(1); // the manifest
    } finally {
      await proxy.stop();
    }
  });
});

/**
 * `sink` as a build's push sees it, recording the digests sent ahead and
 * streamed; with `stream`, it streams layers even to loopback (where a
 * RegistrySink does not: streamsLayersTo), as the proxies here are.
 */
function spiedSink(sink: RegistrySink, stream: boolean) {
  const sentAhead: string[] = [];
  const streamed: Array<Promise<Digest>> = [];
  const spy = {
    write: (img: Parameters<RegistrySink['write']>[0], refs: readonly Reference[]) => sink.write(img, refs),
    sendAhead: (...args: Parameters<RegistrySink['sendAhead']>) => {
      sentAhead.push(args[1].digest);
      sink.sendAhead(...args);
    },
    ...(stream
      ? {
          streamsTo: () => true,
          sendGrowing: (...args: Parameters<RegistrySink['sendGrowing']>) => {
            streamed.push(args[1].descriptor.then((d) => d.digest));
            sink.sendGrowing(...args);
          },
        }
      : {}),
  };
  return { spy, sentAhead, streamed };
}

/** An image of two layers, a sink, a reference in `repo`, and its first layer with its descriptor. */
async function imageToPush(name: string, layerSize: number) {
  const { img, layers } = await makeImage(name, layerSize);
  const ref = parseReference(`${reg.host}/hoist/${name}:1`);
  const sink = new RegistrySink(client());
  const first = layers[0]!;
  const desc = { mediaType: first.layer.mediaType(), digest: await first.layer.digest(), size: await first.layer.size() };
  return { img, ref, sink, first, desc };
}

describe('layers sent ahead of the push (sendAhead)', () => {
  test('are uploaded once: write waits for them instead of sending them again, and the image is whole', async () => {
    const { img, layers } = await makeImage('ahead', 300_000);
    const proxy = await startFaultProxy(reg.url);
    try {
      const ref = parseReference(`${proxy.host}/hoist/ahead:1`);
      const sink = new RegistrySink(client());
      let opened = 0;
      const first = layers[0]!;
      const desc = { mediaType: first.layer.mediaType(), digest: await first.layer.digest(), size: await first.layer.size() };
      sink.sendAhead([ref], desc, async () => (opened++, first.layer.compressed()));
      // Sent again while on its way: still one upload.
      sink.sendAhead([ref], desc, async () => (opened++, first.layer.compressed()));
      expect(await sink.write(img, [ref])).toBe(await img.digest());
      expect(opened).toBe(1);
      // One upload session per blob (the config and two layers), none for a layer sent twice.
      expect(proxy.requests().filter((r) => r.method === 'POST' && r.url.includes('/blobs/uploads/'))).toHaveLength(1 + layers.length);
      const pulled = await new RegistrySource(client(), { store: new BlobStore(join(dir, 'store-ahead')) }).image(ref);
      for (const [i, l] of (await pulled.layers()).entries()) expect((await readAll(await l.compressed())).equals(layers[i]!.gz)).toBe(true);
    } finally {
      await proxy.stop();
    }
  });

  test('one that failed is sent by write', async () => {
    const { img, ref, sink, first, desc } = await imageToPush('ahead-failed', 20_000);
    sink.sendAhead([ref], desc, async () => {
      throw new Error('spool gone');
    });
    expect(await sink.write(img, [ref])).toBe(await img.digest());
    const pulled = await new RegistrySource(client(), { store: new BlobStore(join(dir, 'store-ahead-failed')) }).image(ref);
    expect((await readAll(await (await pulled.layers())[0]!.compressed())).equals(first.gz)).toBe(true);
  });
});

describe('a build that pushes sends its image\'s layers ahead', () => {
  /** A build of a two-stage Dockerfile pushed to `tag`, with the local cache (and `registry` behind it); the digests sendAhead was given. */
  async function pushedBuild(tag: string, registry?: StepCacheSettings['registry']): Promise<{ built: string; pulled: string; sentAhead: string[]; layers: string[] }> {
    const ctx = makeContext({ 'a.txt': 'a'.repeat(5000), 'b.txt': 'b'.repeat(7000), 'other.txt': 'not in the image' });
    const store = new BlobStore(join(dir, `store-${tag}`));
    const { spy, sentAhead } = spiedSink(new RegistrySink(client()), false);
    const ref = `${reg.host}/hoist/ahead-build:${tag}`;
    const df = ['FROM scratch AS other', 'COPY other.txt /', 'FROM scratch', 'COPY a.txt /a.txt', 'COPY b.txt /b.txt', 'COPY --from=other /other.txt /o.txt'].join('\n');
    const result = await build(buildOptions(ctx, df, store, { push: spy, tags: [ref], epoch: 0, cache: await localStepCache(store, registry ? { registry } : {}) }));
    const pulled = await new RegistrySource(client(), { store: new BlobStore(join(dir, `pulled-${tag}`)) }).image(parseReference(ref));
    return { built: result.digest, pulled: await pulled.digest(), sentAhead, layers: await Promise.all((await pulled.layers()).map((l) => l.digest())) };
  }

  test('with the local cache: each layer of the image once, none of another stage, and the pushed image is whole', async () => {
    const { built, pulled, sentAhead, layers } = await pushedBuild('local');
    expect(pulled).toBe(built);
    expect(layers).toHaveLength(3);
    expect([...sentAhead].sort()).toEqual([...layers].sort());
  });

  test('not with a registry cache: the push mounts the layers from the cache repository', async () => {
    const repo = new RegistryStepStore(client(), parseReference(`${reg.host}/hoist/ahead-cache`));
    const { built, pulled, sentAhead, layers } = await pushedBuild('cached', { from: repo, to: repo, warn: () => {} });
    expect(pulled).toBe(built);
    expect(layers).toHaveLength(3);
    expect(sentAhead).toEqual([]);
  });
});

describe('layers sent while they are compressed (sendGrowing)', () => {
  /** A GrowingBlob over `data`, handed out in `pieces` with a pause between them; its descriptor is given. */
  function growing(data: Buffer, descriptor: Promise<{ mediaType: string; digest: Digest; size: number }>, pieces = 4, pauseMs = 20): GrowingBlob & { closed: () => boolean } {
    let closed = false;
    return {
      descriptor,
      discard: () => undefined,
      closed: () => closed,
      async *chunks() {
        try {
          const step = Math.ceil(data.length / pieces);
          for (let o = 0; o < data.length; o += step) {
            await new Promise((r) => setTimeout(r, pauseMs));
            yield data.subarray(o, o + step);
          }
        } finally {
          closed = true;
        }
      },
    };
  }
  const described = (data: Buffer) => Promise.resolve({ mediaType: MediaType.OciLayerGzip, digest: `sha256:${createHash('sha256').update(data).digest('hex')}` as Digest, size: data.length });

  test('a blob streamed as it is written arrives whole, under its digest', async () => {
    const data = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 251));
    const repo = parseReference(`${reg.host}/hoist/growing`);
    expect(await client().pushGrowingBlob(repo, growing(data, described(data)))).toBe('uploaded');
    const { digest } = await described(data);
    const fetched = await readAll(await client().fetchBlob(repo, { mediaType: MediaType.OciLayerGzip, digest, size: data.length }));
    expect(fetched.equals(data)).toBe(true);
  });

  test('stops sending once the repository turns out to hold the blob', async () => {
    const data = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 31) % 253));
    const repo = parseReference(`${reg.host}/hoist/growing-held`);
    expect(await client().pushGrowingBlob(repo, growing(data, described(data)))).toBe('uploaded');
    // The same bytes again, known by digest at once and trickling for a minute: the rest is not waited for.
    const again = growing(Buffer.concat(Array.from({ length: 3000 }, () => data)), described(data), 3000, 20);
    const started = Date.now();
    expect(await client().pushGrowingBlob(repo, again)).toBe('exists');
    expect(Date.now() - started).toBeLessThan(30_000);
    await expect.poll(() => again.closed()).toBe(true);
  });

  test('shows the upload of a streamed layer under its digest once the digest is known, then done', async () => {
    const { img, layers } = await makeImage('growing-progress', 300_000);
    const proxy = await startFaultProxy(reg.url);
    try {
      const ref = parseReference(`${proxy.host}/hoist/growing-progress:1`);
      const first = layers[0]!;
      const desc = { mediaType: first.layer.mediaType(), digest: await first.layer.digest(), size: await first.layer.size() };
      const events: TransferProgress[] = [];
      const sink = new RegistrySink(client(), { onProgress: (p) => events.push(p) });
      // Known after a few of its pieces have gone: a layer whose compression ends while its upload goes on.
      let describe: (d: typeof desc) => void = () => undefined;
      const blob = growing(first.gz, new Promise((resolve) => (describe = resolve)), 8, 40);
      setTimeout(() => describe(desc), 150);
      sink.sendGrowing([ref], blob);
      // As in a build: the image is written once its layers are stored, so the push finds this upload.
      await blob.descriptor;
      expect(await sink.write(img, [ref])).toBe(await img.digest());
      // The streamed upload was the layer's only one: what showed was its bytes.
      expect(proxy.requests().filter((r) => r.method === 'POST' && r.url.includes('/blobs/uploads/'))).toHaveLength(1 + layers.length);
      const shown = events.filter((e) => e.action === 'upload' && e.id === desc.digest);
      const running = shown.filter((e) => e.status === 'running');
      expect(running.length).toBeGreaterThan(0);
      expect(running.every((e) => e.total === desc.size && e.current > 0 && e.current <= desc.size)).toBe(true);
      expect(shown.at(-1)).toMatchObject({ status: 'done', current: desc.size, total: desc.size });
    } finally {
      await proxy.stop();
    }
  });

  test('write waits for a streamed blob whose digest is not known yet, instead of sending it again', async () => {
    const { img, layers } = await makeImage('growing-early-write', 300_000);
    const proxy = await startFaultProxy(reg.url);
    try {
      const ref = parseReference(`${proxy.host}/hoist/growing-early-write:1`);
      const first = layers[0]!;
      const desc = { mediaType: first.layer.mediaType(), digest: await first.layer.digest(), size: await first.layer.size() };
      const sink = new RegistrySink(client());
      let describe: (d: typeof desc) => void = () => undefined;
      sink.sendGrowing([ref], growing(first.gz, new Promise((resolve) => (describe = resolve)), 4, 40));
      setTimeout(() => describe(desc), 150);
      // Written at once, while the streamed layer's digest is still unknown.
      expect(await sink.write(img, [ref])).toBe(await img.digest());
      expect(proxy.requests().filter((r) => r.method === 'POST' && r.url.includes('/blobs/uploads/'))).toHaveLength(1 + layers.length);
    } finally {
      await proxy.stop();
    }
  });

  test('a blob whose bytes do not match its digest fails, and write sends the stored one', async () => {
    const { img, ref, sink, first, desc } = await imageToPush('growing-wrong', 50_000);
    const wrong = Buffer.from(first.gz);
    wrong[wrong.length - 1] = (wrong[wrong.length - 1]! + 1) % 256;
    await expect(client().pushGrowingBlob(ref.repository(), growing(wrong, Promise.resolve(desc)))).rejects.toThrow();
    sink.sendGrowing([ref], growing(wrong, Promise.resolve(desc)));
    expect(await sink.write(img, [ref])).toBe(await img.digest());
    const pulled = await new RegistrySource(client(), { store: new BlobStore(join(dir, 'store-growing-wrong')) }).image(ref);
    expect((await readAll(await (await pulled.layers())[0]!.compressed())).equals(first.gz)).toBe(true);
  });

  test('a streamed layer still behind the compression when the build ends is sent to its end, not again', async () => {
    const proxy = await startFaultProxy(reg.url);
    try {
      // 24 MiB that gzip cannot shrink, held back by the registry for 2 s: more than the sockets buffer.
      const ctx = makeContext({ 'a.txt': 'a'.repeat(5000) });
      writeFileSync(join(ctx, 'noise.bin'), randomBytes(24 << 20));
      proxy.setFaults([{ kind: 'delay', ms: 2000, method: 'PATCH' }]);
      const store = new BlobStore(join(dir, 'store-growing-slow'));
      const { spy } = spiedSink(new RegistrySink(client()), true);
      const ref = `${proxy.host}/hoist/growing-slow:1`;
      const result = await build(buildOptions(ctx, ['FROM scratch', 'COPY a.txt /a.txt', 'COPY noise.bin /noise.bin'].join('\n'), store, { push: spy, tags: [ref], epoch: 0, cache: await localStepCache(store) }));
      const pulled = await new RegistrySource(client(), { store: new BlobStore(join(dir, 'pulled-growing-slow')) }).image(parseReference(ref));
      expect(await pulled.digest()).toBe(result.digest);
      // Two layers and the config: one upload session each, none sent a second time.
      expect(proxy.requests().filter((r) => r.method === 'POST' && r.url.includes('/blobs/uploads/'))).toHaveLength(3);
    } finally {
      await proxy.stop();
    }
  });

  test('a build that pushes streams each layer of its image, once, and the pushed image is whole', async () => {
    const proxy = await startFaultProxy(reg.url);
    try {
      const ctx = makeContext({ 'a.txt': 'a'.repeat(5000), 'b.txt': Array.from({ length: 400_000 }, (_, i) => String.fromCharCode(97 + ((i * 7) % 26))).join(''), 'other.txt': 'not in the image' });
      const store = new BlobStore(join(dir, 'store-growing-build'));
      const { spy, sentAhead, streamed } = spiedSink(new RegistrySink(client()), true);
      const ref = `${proxy.host}/hoist/growing-build:1`;
      const df = ['FROM scratch AS other', 'COPY other.txt /', 'FROM scratch', 'COPY a.txt /a.txt', 'COPY b.txt /b.txt', 'COPY --from=other /other.txt /o.txt'].join('\n');
      const result = await build(buildOptions(ctx, df, store, { push: spy, tags: [ref], epoch: 0, cache: await localStepCache(store) }));
      const pulled = await new RegistrySource(client(), { store: new BlobStore(join(dir, 'pulled-growing-build')) }).image(parseReference(ref));
      expect(await pulled.digest()).toBe(result.digest);
      const layers = await Promise.all((await pulled.layers()).map((l) => l.digest()));
      expect(layers).toHaveLength(3);
      expect((await Promise.all(streamed)).sort()).toEqual([...layers].sort());
      expect(sentAhead).toEqual([]);
      // One upload session per blob: the three layers and the config.
      expect(proxy.requests().filter((r) => r.method === 'POST' && r.url.includes('/blobs/uploads/'))).toHaveLength(4);
      for (const l of await pulled.layers()) await readAll(await l.compressed());
    } finally {
      await proxy.stop();
    }
  });
});

describe('pulling what an independent pusher wrote', () => {
  test('a single OCI image: lazy, then prefetch fills the store', async () => {
    const pushed = await pushTestImage(reg, 'indep/single', 'v1', { layers: 3, layerSize: 50_000 });
    const proxy = await startFaultProxy(reg.url);
    try {
      const store = new BlobStore(join(dir, 'store-lazy'));
      const source = new RegistrySource(client(), { store });
      const img = await source.image(parseReference(`${proxy.host}/indep/single:v1`));
      expect(await img.digest()).toBe(pushed.manifestDigest);
      const blobGets = () => proxy.requests().filter((r) => r.method === 'GET' && r.url.includes('/blobs/'));
      expect(blobGets().map((r) => r.url)).toEqual([`/v2/indep/single/blobs/${pushed.configDigest}`]);
      await source.prefetch(img);
      for (const l of pushed.layers) expect(await store.has(l.digest as Digest)).toBe(true);
      const n = blobGets().length;
      expect(n).toBe(4);
      // Reading layers now costs nothing on the network.
      for (const l of await img.layers()) await readAll(await l.compressed());
      expect(blobGets()).toHaveLength(n);
    } finally {
      await proxy.stop();
    }
  });

  test('a multi-platform index resolves to the requested platform, default from the source', async () => {
    const pushed = await pushTestImage(reg, 'indep/multi', 'v1', { platforms: ['linux/amd64', 'linux/arm64/v8', 'linux/arm/v7'] });
    const ref = parseReference(`${reg.host}/indep/multi:v1`);
    const amd = pushed.manifests.find((m) => m.platform.architecture === 'amd64')!;
    const arm64 = pushed.manifests.find((m) => m.platform.architecture === 'arm64')!;
    const source = new RegistrySource(client(), { defaultPlatform: { os: 'linux', architecture: 'amd64' } });
    expect(await (await source.image(ref)).digest()).toBe(amd.digest);
    const img = await source.image(ref, { os: 'linux', architecture: 'arm64' });
    expect(await img.digest()).toBe(arm64.digest);
    expect((await img.configFile()).architecture).toBe('arm64');
    const index = await client().getManifest(ref);
    expect(index.mediaType).toBe(MediaType.OciIndex);
    expect(index.digest).toBe(pushed.indexDigest);
    const err = await source.image(ref, { os: 'windows', architecture: 'amd64' }).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('PLATFORM_NOT_FOUND');
    expect((err as Error).message).toMatch(/linux\/arm64\/v8/);
  });

  test('Docker media types: a manifest list and schema2 manifests', async () => {
    const pushed = await pushTestImage(reg, 'indep/docker', 'v1', { platforms: ['linux/amd64', 'linux/arm64'], dockerMediaTypes: true });
    const ref = parseReference(`${reg.host}/indep/docker:v1`);
    const list = await client().getManifest(ref);
    expect(list.mediaType).toBe(MediaType.DockerManifestList);
    const img = await new RegistrySource(client()).image(ref, { os: 'linux', architecture: 'amd64' });
    expect(await img.mediaType()).toBe(MediaType.DockerManifest);
    expect(await img.digest()).toBe(pushed.manifestDigest);
    const layers = await img.layers();
    expect(layers.map((l) => l.mediaType())).toEqual([MediaType.DockerLayerGzip, MediaType.DockerLayerGzip]);
    expect((await readAll(await layers[0]!.uncompressed())).length).toBeGreaterThan(0);
  });

  test('by digest, and a manifest that does not exist', async () => {
    const pushed = await pushTestImage(reg, 'indep/bydigest', 'v1');
    const byDigest = parseReference(`${reg.host}/indep/bydigest@${pushed.manifestDigest}`);
    expect((await client().getManifest(byDigest)).digest).toBe(pushed.manifestDigest);
    const err = await client()
      .getManifest(parseReference(`${reg.host}/indep/bydigest:nope`))
      .catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('REGISTRY_NOT_FOUND');
    expect((err as Error).message).toContain('MANIFEST_UNKNOWN');
    expect((err as Error).message).toContain(`${reg.host}/indep/bydigest:nope`);
  });
});

describe('tags', () => {
  // Debian's distribution 2.8 ignores `n`/`last` on tags/list (pagination came
  // with distribution 3), so the Link-following is proven against the fake
  // registry in test/unit/registry/client.test.ts; here: every tag, once.
  test('listTags with a small page size returns every tag once', async () => {
    const { img } = await makeImage('tags', 10);
    const repo = parseReference(`${reg.host}/hoist/tags`);
    const tags = Array.from({ length: 12 }, (_, i) => `t${String(i).padStart(2, '0')}`);
    await new RegistrySink(client()).write(img, tags.map((t) => repo.withTag(t)));
    const got = await client().listTags(repo, { pageSize: 5 });
    expect([...got].sort()).toEqual(tags);
  });

  test('listTags of a repository that does not exist: NAME_UNKNOWN', async () => {
    const err = await client()
      .listTags(parseReference(`${reg.host}/hoist/never-pushed`))
      .catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('REGISTRY_NOT_FOUND');
    expect((err as Error).message).toContain('NAME_UNKNOWN');
  });
});

describe('cross-repository mount', () => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = await startFaultProxy(reg.url);
  });
  afterAll(async () => {
    await proxy.stop();
  });

  test('a second repository on the same registry mounts instead of uploading', async () => {
    const { img } = await makeImage('mount', 100_000);
    const c = client();
    const sink = new RegistrySink(c);
    await sink.write(img, [parseReference(`${proxy.host}/mount/first:1`)]);
    proxy.resetHits();
    await sink.write(img, [parseReference(`${proxy.host}/mount/second:1`)]);
    const reqs = proxy.requests();
    const posts = reqs.filter((r) => r.method === 'POST');
    expect(posts).toHaveLength(3); // config + 2 layers
    for (const p of posts) {
      expect(p.url).toMatch(/mount=sha256%3A|mount=sha256:/);
      expect(p.url).toMatch(/from=mount%2Ffirst|from=mount\/first/);
      expect(p.status).toBe(201);
    }
    expect(reqs.filter((r) => r.method === 'PATCH')).toEqual([]);
    expect(reqs.filter((r) => r.method === 'PUT').map((r) => r.url)).toEqual(['/v2/mount/second/manifests/1']);
    const pulled = await new RegistrySource(client()).image(parseReference(`${reg.host}/mount/second:1`));
    expect(await pulled.digest()).toBe(await img.digest());
  });

  test('one write to two repositories: the second mounts from the first', async () => {
    const { img } = await makeImage('mount-two', 1000);
    proxy.resetHits();
    await new RegistrySink(client()).write(img, [
      parseReference(`${proxy.host}/two/a:1`),
      parseReference(`${proxy.host}/two/b:1`),
      parseReference(`${proxy.host}/two/a:2`),
    ]);
    const posts = proxy.requests().filter((r) => r.method === 'POST');
    expect(posts.filter((r) => r.url.startsWith('/v2/two/b/') && r.status === 201)).toHaveLength(3);
    expect(proxy.requests().filter((r) => r.method === 'PUT' && r.url.includes('/manifests/')).map((r) => r.url)).toEqual([
      '/v2/two/a/manifests/1',
      '/v2/two/a/manifests/2',
      '/v2/two/b/manifests/1',
    ]);
  });
});

describe('uploads', () => {
  test('a large layer goes up with PATCH + PUT and comes back intact', async () => {
    const { img, layers } = await makeImage('chunked', 300_000);
    const proxy = await startFaultProxy(reg.url);
    try {
      const c = client({ monolithicUploadLimit: 64 * 1024 });
      await new RegistrySink(c).write(img, [parseReference(`${proxy.host}/hoist/chunked:1`)]);
      expect(proxy.requests().filter((r) => r.method === 'PATCH')).toHaveLength(1);
    } finally {
      await proxy.stop();
    }
    const store = new BlobStore(join(dir, 'store-chunked'));
    const pulled = await new RegistrySource(client(), { store }).image(parseReference(`${reg.host}/hoist/chunked:1`));
    const big = (await pulled.layers())[1]!;
    expect((await readAll(await big.compressed())).equals(layers[1]!.gz)).toBe(true);
    expect((await readdir(join(dir, 'store-chunked', 'blobs', 'sha256'))).length).toBe(2); // config + that layer
  });
});

describe('corrupt local content', () => {
  test('same length, wrong bytes: the registry refuses it and the push fails clearly', async () => {
    const claimed = Buffer.from('the content the descriptor promises');
    const actual = Buffer.from('THE CONTENT THE DESCRIPTOR PROMISES');
    const desc = {
      mediaType: MediaType.OciLayerGzip,
      digest: `sha256:${createHash('sha256').update(claimed).digest('hex')}` as Digest,
      size: claimed.length,
    };
    const repo = parseReference(`${reg.host}/hoist/corrupt`);
    const c = client();
    const err = await c.pushBlob(repo, desc, async () => Readable.from([actual])).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/DIGEST_INVALID|digest/i);
    expect(await c.blobExists(repo, desc.digest)).toBe(false);
  });
});
