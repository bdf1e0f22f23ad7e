/**
 * The registry cache (--cache-repo): builders with separate cache dirs
 * (machines) share step results through one repository of a real registry;
 * a pushed image's layers are mounted from it, not uploaded again; a cache
 * registry that is down or fails costs a warning, never the build.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from '../../../src/builder/executor/build.js';
import { localStepCache } from '../../../src/builder/executor/local-cache.js';
import type { BuildEvent } from '../../../src/builder/events.js';
import { cacheTag, RECORD_ANNOTATION, RegistryStepStore, STEP_ARTIFACT_TYPE } from '../../../src/builder/cache/registry-store.js';
import { BlobStore, digestHex, parseReference, sha256Digest, type Descriptor, type Digest } from '../../../src/oci/index.js';
import type { StepRecord } from '../../../src/builder/cache/local-store.js';
import { RegistryClient, RegistrySink } from '../../../registry/index.js';
import { anonymousKeychain, staticKeychain } from '../../../registry/keychain/index.js';
import { makeBusyboxRootfs } from '../../helpers/busybox-rootfs.js';
import { buildOptions, makeContext, tempDir } from '../../helpers/build.js';
import { flatten, readOciLayout } from '../../helpers/oci-reader.js';
import { freePort, startFaultProxy, startRegistry, type FaultProxy, type RunningRegistry } from '../../helpers/registry/index.js';

interface Machine {
  client: RegistryClient;
  cacheDir: string;
}

interface RegistryCacheBuild {
  digest: string;
  steps: Array<[string, boolean]>;
  events: BuildEvent[];
  warnings: string[];
  out: string | undefined;
}

async function machineBuild(
  m: Machine,
  dockerfile: string,
  context: string,
  opts: { cacheRepo: string; push?: string; output?: boolean; epoch?: number; ttlMs?: number; write?: boolean },
): Promise<RegistryCacheBuild> {
  const store = new BlobStore(m.cacheDir);
  const out = opts.output === false ? undefined : path.join(tempDir('hoist-regcache-out-'), 'layout');
  const events: BuildEvent[] = [];
  const warnings: string[] = [];
  const repo = new RegistryStepStore(m.client, parseReference(opts.cacheRepo));
  const result = await build(
    buildOptions(context, dockerfile, store, {
      outputs: out === undefined ? [] : [{ type: 'oci-layout', dest: out }],
      push: opts.push === undefined ? undefined : new RegistrySink(m.client),
      tags: [opts.push ?? 'regcache:test'],
      epoch: opts.epoch,
      onEvent: (e) => events.push(e),
      cache: await localStepCache(store, {
        ttlMs: opts.ttlMs,
        registry: { from: repo, to: opts.write === false ? undefined : repo, warn: (message) => warnings.push(message) },
      }),
    }),
  );
  const steps = result.report.steps.filter((s) => !s.instruction.startsWith('FROM')).map((s): [string, boolean] => [s.instruction, s.cached === true]);
  return { digest: result.digest, steps, events, warnings, out };
}

const ranRun = (b: RegistryCacheBuild): boolean => b.events.some((e) => e.type === 'note' && e.code === 'RUNNER');

describe('registry cache: many builders, one cache', () => {
  let registry: RunningRegistry;
  let proxy: FaultProxy;
  let host: string;
  let ctx: string;
  const clients: RegistryClient[] = [];
  const machine = (): Machine => {
    const client = new RegistryClient({ keychain: anonymousKeychain() });
    clients.push(client);
    return { client, cacheDir: tempDir('hoist-regcache-') };
  };
  const dockerfile = ['FROM scratch AS base', 'COPY rootfs /', 'FROM base', 'RUN echo one > /one.txt', 'COPY note.txt /note.txt', 'RUN cat /note.txt /one.txt > /both.txt', 'WORKDIR /w'].join('\n');

  beforeAll(async () => {
    registry = await startRegistry();
    proxy = await startFaultProxy(registry.url);
    host = proxy.host;
    ctx = makeContext({ 'note.txt': 'n' });
    await makeBusyboxRootfs(path.join(ctx, 'rootfs'));
  }, 300_000);
  afterAll(async () => {
    for (const c of clients) await c.close();
    await proxy?.stop();
    await registry?.stop();
  });

  it('a second machine with a fresh cache dir hits every step, runs nothing, and gives the same image', async () => {
    const a = machine();
    const first = await machineBuild(a, dockerfile, ctx, { cacheRepo: `${host}/shared/cache` });
    expect(first.steps.every(([, c]) => !c)).toBe(true);
    expect(first.warnings).toEqual([]);

    const b = machine();
    const second = await machineBuild(b, dockerfile, ctx, { cacheRepo: `${host}/shared/cache` });
    expect(second.steps).toEqual(first.steps.map(([i]) => [i, true]));
    expect(ranRun(second)).toBe(false);
    expect(second.digest).toBe(first.digest);
    // The output needed the blobs: they came from the cache repository, verified, and the files are the first machine's.
    const files = flatten((await readOciLayout(second.out as string)).layers);
    expect(files.get('both.txt')?.content?.toString()).toBe('none\n');
    // What the registry holds under a key is our artifact.
    const tags = await a.client.listTags(parseReference(`${host}/shared/cache`));
    expect(tags.length).toBe(5); // the steps that change files: COPY, RUN, COPY, RUN, WORKDIR
    expect(tags.every((t) => /^hoist-[0-9a-f]{64}$/.test(t))).toBe(true);
    const manifest = JSON.parse((await a.client.getManifest(parseReference(`${host}/shared/cache:${tags[0]}`))).raw.toString()) as { artifactType: string; config: { mediaType: string } };
    expect(manifest.artifactType).toBe(STEP_ARTIFACT_TYPE);
    expect(manifest.config.mediaType).toBe(STEP_ARTIFACT_TYPE);
  }, 300_000);

  it('keeps looking after a miss: the step after one the cache lacks still hits when the files are the same again', async () => {
    const steps = ['FROM scratch', 'COPY note.txt /note.txt', 'WORKDIR /w', 'COPY rootfs/bin/busybox /bb'];
    const repo = parseReference(`${host}/keep/cache`);
    const opts = { cacheRepo: repo.string(), epoch: 1_700_000_000 };
    const a = machine();
    const tagsAfter = async (n: number) => {
      await machineBuild(a, steps.slice(0, n).join('\n'), ctx, opts);
      return new Set(await a.client.listTags(repo));
    };
    const one = await tagsAfter(2);
    const workdirTag = [...(await tagsAfter(3))].find((t) => !one.has(t)) as string;
    await machineBuild(a, steps.join('\n'), ctx, opts);
    // The WORKDIR entry is replaced by something that is not a hoist cache entry: the cache lacks that step now.
    const empty = Buffer.from('{}');
    const config = { mediaType: 'application/vnd.oci.empty.v1+json', digest: sha256Digest(empty), size: empty.length };
    await a.client.pushBlob(repo, config, async () => Readable.from([empty]));
    const foreign = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: 'application/example', config, layers: [] };
    await a.client.putManifest(repo.withTag(workdirTag), Buffer.from(JSON.stringify(foreign)), 'application/vnd.oci.image.manifest.v1+json');

    const b = await machineBuild(machine(), steps.join('\n'), ctx, opts);
    // Kaniko would stop at the miss; the WORKDIR runs again, makes the same layer, and the COPY after it hits.
    expect(b.steps.map(([, c]) => c)).toEqual([true, false, true]);
  }, 300_000);

  it('a layer is uploaded once: the push mounts it from the cache repository, and a cached build that pushes moves no layer bytes', async () => {
    const df = ['FROM scratch', 'COPY rootfs/bin/busybox /bin/busybox', 'COPY note.txt /note.txt'].join('\n');
    const layerUploads = () => proxy.requests().filter((r) => (r.method === 'PUT' || r.method === 'PATCH') && /\/blobs\/uploads\//.test(r.url));
    const mounts = (repo: string) => proxy.requests().filter((r) => r.method === 'POST' && r.url.startsWith(`/v2/${repo}/blobs/uploads/`) && r.url.includes('mount=') && r.status === 201);

    proxy.resetHits();
    const a = await machineBuild(machine(), df, ctx, { cacheRepo: `${host}/once/cache`, push: `${host}/once/app:1`, output: false });
    // Two layers and two records into the cache, the image's config into the app: nothing else was uploaded.
    expect(layerUploads().filter((r) => r.url.startsWith('/v2/once/cache/')).length).toBe(4);
    expect(layerUploads().filter((r) => r.url.startsWith('/v2/once/app/')).length).toBe(1);
    expect(mounts('once/app').length).toBe(2);

    proxy.resetHits();
    const b = await machineBuild(machine(), df, ctx, { cacheRepo: `${host}/once/cache`, push: `${host}/once/app2:1`, output: false });
    expect(b.steps.every(([, c]) => c)).toBe(true);
    expect(b.digest).toBe(a.digest);
    const blobGets = proxy.requests().filter((r) => r.method === 'GET' && /\/blobs\/sha256:/.test(r.url));
    // A hit is one manifest GET (the record rides in it): no blob at all was downloaded...
    expect(blobGets.length).toBe(0);
    expect(proxy.requests().filter((r) => r.method === 'GET' && r.url.startsWith('/v2/once/cache/manifests/hoist-')).length).toBe(2);
    // ...and none uploaded: both were mounted, only the config was sent.
    expect(mounts('once/app2').length).toBe(2);
    expect(layerUploads().filter((r) => r.url.startsWith('/v2/once/app2/')).length).toBe(1);
    expect(layerUploads().filter((r) => r.url.startsWith('/v2/once/cache/')).length).toBe(0);
  }, 300_000);

  it('two builders writing the same keys at once both succeed, and a third finds whole entries', async () => {
    const df = ['FROM scratch', 'COPY note.txt /note.txt', 'WORKDIR /app', 'COPY rootfs/bin /bin'].join('\n');
    const opts = { cacheRepo: `${host}/race/cache`, epoch: 1_700_000_000 };
    const [x, y] = await Promise.all([machineBuild(machine(), df, ctx, opts), machineBuild(machine(), df, ctx, opts)]);
    expect(x.warnings).toEqual([]);
    expect(y.warnings).toEqual([]);
    expect(x.digest).toBe(y.digest);
    const third = await machineBuild(machine(), df, ctx, opts);
    expect(third.steps.map(([, c]) => c)).toEqual([true, true, true]);
    expect(third.digest).toBe(x.digest);
  }, 300_000);

  it('a cache registry that is down, or answers 500, costs one warning and never the build', async () => {
    const df = ['FROM scratch', 'COPY note.txt /note.txt', 'WORKDIR /a', 'WORKDIR /b'].join('\n');
    const port = await freePort();
    const down = await machineBuild(machine(), df, ctx, { cacheRepo: `127.0.0.1:${port}/down/cache` });
    expect(down.steps.every(([, c]) => !c)).toBe(true);
    expect(down.warnings).toHaveLength(1);
    expect(down.warnings[0]).toContain(`127.0.0.1:${port}/down/cache`);

    proxy.setFaults([{ kind: 'status', status: 500, times: 1_000_000, match: /^\/v2\/broken\// }]);
    try {
      const broken = await machineBuild(machine(), df, ctx, { cacheRepo: `${host}/broken/cache` });
      expect(broken.warnings).toHaveLength(1);
      expect(broken.digest).toMatch(/^sha256:/);
    } finally {
      proxy.setFaults([]);
    }
  }, 300_000);

  it('--cache-ttl: entries older than the bound are not used, in the registry and in the local cache', async () => {
    const df = ['FROM scratch', 'COPY note.txt /note.txt', 'WORKDIR /ttl'].join('\n');
    const a = machine();
    await machineBuild(a, df, ctx, { cacheRepo: `${host}/ttl/cache` });
    await new Promise((r) => setTimeout(r, 50));
    const expiredRemote = await machineBuild(machine(), df, ctx, { cacheRepo: `${host}/ttl/cache`, ttlMs: 10, write: false });
    expect(expiredRemote.steps.map(([, c]) => c)).toEqual([false, false]);
    const expiredLocal = await machineBuild(a, df, ctx, { cacheRepo: `${host}/ttl/cache`, ttlMs: 10, write: false });
    expect(expiredLocal.steps.map(([, c]) => c)).toEqual([false, false]);
    const fresh = await machineBuild(machine(), df, ctx, { cacheRepo: `${host}/ttl/cache`, ttlMs: 60 * 60 * 1000 });
    expect(fresh.steps.map(([, c]) => c)).toEqual([true, true]);
  }, 300_000);

  it('a record names the key it was stored under and holds no credential', async () => {
    const secure = await startRegistry({ auth: 'htpasswd' });
    const client = new RegistryClient({
      keychain: staticKeychain({ [secure.host]: { kind: 'basic', username: secure.username as string, password: secure.password as string } }),
      caFiles: [secure.caCertFile as string],
    });
    clients.push(client);
    try {
      const df = ['FROM scratch', 'COPY note.txt /note.txt', 'WORKDIR /secure'].join('\n');
      const built = await machineBuild({ client, cacheDir: tempDir('hoist-regcache-') }, df, ctx, { cacheRepo: `${secure.host}/sec/cache` });
      expect(built.warnings).toEqual([]);
      const again = await machineBuild({ client, cacheDir: tempDir('hoist-regcache-') }, df, ctx, { cacheRepo: `${secure.host}/sec/cache` });
      expect(again.steps.map(([, c]) => c)).toEqual([true, true]);
      // Every file the registry stored (blobs, manifests, tags): none holds the password or the user name.
      const stored = readdirSync(secure.storageDir, { recursive: true })
        .map((f) => path.join(secure.storageDir, String(f)))
        .filter((f) => statSync(f).isFile());
      expect(stored.length).toBeGreaterThan(4);
      for (const f of stored) {
        const bytes = readFileSync(f);
        expect(bytes.includes(Buffer.from(secure.password as string))).toBe(false);
        expect(bytes.includes(Buffer.from(secure.username as string))).toBe(false);
      }
    } finally {
      await secure.stop();
    }
  }, 300_000);

  it('a cache dir filled before --cache-repo was given shares its hits: the repository gets the entries it lacks', async () => {
    const df = ['FROM scratch', 'COPY note.txt /note.txt', 'WORKDIR /shared-later'].join('\n');
    const a = machine();
    const store = new BlobStore(a.cacheDir);
    await build(buildOptions(ctx, df, store, { tags: ['local:only'], cache: await localStepCache(store) }));
    const warm = await machineBuild(a, df, ctx, { cacheRepo: `${host}/later/cache`, output: false });
    expect(warm.steps.map(([, c]) => c)).toEqual([true, true]);
    expect(await a.client.listTags(parseReference(`${host}/later/cache`))).toHaveLength(2);
    const b = await machineBuild(machine(), df, ctx, { cacheRepo: `${host}/later/cache` });
    expect(b.steps.map(([, c]) => c)).toEqual([true, true]);
    expect(b.digest).toBe(warm.digest);
  }, 300_000);

  it('an entry without the inline record is read from its config blob; a foreign artifact, or an entry copied to another key\'s tag, is a miss', async () => {
    const m = machine();
    const repoRef = parseReference(`${host}/plain/cache`);
    const repo = new RegistryStepStore(m.client, repoRef);
    const key = `sha256:${'cd'.repeat(32)}` as Digest;
    const record = { created: '2026-01-01T00:00:00Z', createdBy: 'WORKDIR /x', stored: '2026-01-02T00:00:00Z' };
    await repo.put(key, record, () => Promise.reject(new Error('no layer')));
    const tagged = repoRef.withTag(cacheTag(key));
    const manifest = JSON.parse((await m.client.getManifest(tagged)).raw.toString()) as { annotations: Record<string, string> };
    expect(manifest.annotations).toEqual({ 'org.opencontainers.image.created': record.stored, [RECORD_ANNOTATION]: JSON.stringify({ format: 'hoist.cache.step-record/v1', key, ...record }) });
    // The same entry under another key's tag (a mirroring tool, crane tag by hand): it names its own key, so it is a miss there.
    const otherKey = `sha256:${'fe'.repeat(32)}` as Digest;
    await m.client.putManifest(repoRef.withTag(cacheTag(otherKey)), (await m.client.getManifest(tagged)).raw, 'application/vnd.oci.image.manifest.v1+json');
    expect(await repo.get(key)).toEqual({ record });
    expect(await repo.get(otherKey)).toBeUndefined();
    delete manifest.annotations[RECORD_ANNOTATION];
    await m.client.putManifest(tagged, Buffer.from(JSON.stringify(manifest)), 'application/vnd.oci.image.manifest.v1+json');
    proxy.resetHits();
    expect(await repo.get(key)).toEqual({ record });
    expect(proxy.requests().some((r) => r.method === 'GET' && /\/blobs\/sha256:/.test(r.url))).toBe(true);
    expect(await repo.get(`sha256:${'ef'.repeat(32)}` as Digest)).toBeUndefined();
    // An inline record that is not the config blob (its digest differs) is not believed: the blob is read.
    manifest.annotations[RECORD_ANNOTATION] = JSON.stringify({ format: 'hoist.cache.step-record/v1', key, ...record, createdBy: 'RUN tampered' });
    await m.client.putManifest(tagged, Buffer.from(JSON.stringify(manifest)), 'application/vnd.oci.image.manifest.v1+json');
    proxy.resetHits();
    expect(await repo.get(key)).toEqual({ record });
    expect(proxy.requests().some((r) => r.method === 'GET' && /\/blobs\/sha256:/.test(r.url))).toBe(true);
  });

  // Two small COPY steps; the entries of repository `repo`, by the file the step copied.
  const twoCopies = ['FROM scratch', 'COPY a.txt /a.txt', 'COPY b.txt /b.txt'].join('\n');
  const entriesOf = async (m: Machine, repo: string): Promise<Map<string, { key: Digest; record: StepRecord; layer: Descriptor }>> => {
    const store = new RegistryStepStore(m.client, parseReference(repo));
    const entries = new Map<string, { key: Digest; record: StepRecord; layer: Descriptor }>();
    for (const tag of await m.client.listTags(parseReference(repo))) {
      const key = `sha256:${tag.slice('hoist-'.length)}` as Digest;
      const entry = await store.get(key);
      if (entry?.layer !== undefined) entries.set(entry.record.createdBy.includes('a.txt') ? 'a' : 'b', { key, record: entry.record, layer: entry.layer });
    }
    return entries;
  };

  it('a cached layer that is not what its record says is a miss with a warning: the step is built again and the image is right', async () => {
    const abCtx = makeContext({ 'a.txt': 'a wrong', 'b.txt': 'b wrong' }); // blobs of their own: the registry stores each blob once, for every repository
    const repo = `${host}/wrong/cache`;
    const a = machine();
    const first = await machineBuild(a, twoCopies, abCtx, { cacheRepo: repo, output: false, epoch: 1_700_000_000 });
    const entries = await entriesOf(a, repo);
    const stepA = entries.get('a');
    const stepB = entries.get('b');
    if (stepA === undefined || stepB === undefined) throw new Error(`cache entries missing: ${[...entries.keys()].join(', ')}`);
    // The entry of COPY a.txt now claims b.txt's diffID for a.txt's layer (what a careless or hostile writer could store).
    const lying = { ...stepA.record, layer: { ...(stepA.record.layer as NonNullable<StepRecord['layer']>), diffId: (stepB.record.layer as NonNullable<StepRecord['layer']>).diffId } };
    await new RegistryStepStore(a.client, parseReference(repo)).put(stepA.key, lying, () => Promise.reject(new Error('the layer is there')));

    const b = await machineBuild(machine(), twoCopies, abCtx, { cacheRepo: repo, epoch: 1_700_000_000 });
    expect(b.warnings).toHaveLength(1);
    expect(b.warnings[0]).toContain(`wrong layer ${stepA.layer.digest}`);
    // COPY a.txt ran again; COPY b.txt, on the true diffID, hit; the image is the first machine's.
    expect(b.steps.map(([, c]) => c)).toEqual([false, true]);
    expect(b.digest).toBe(first.digest);
    const files = flatten((await readOciLayout(b.out as string)).layers);
    expect(files.get('a.txt')?.content?.toString()).toBe('a wrong');
  }, 300_000);

  it('a cached layer whose blob is corrupt in the registry is a miss with a warning, never a failed build', async () => {
    const abCtx = makeContext({ 'a.txt': 'a corrupt', 'b.txt': 'b corrupt' }); // blobs of their own: the registry stores each blob once, for every repository
    const repo = `${host}/corrupt/cache`;
    const a = machine();
    const first = await machineBuild(a, twoCopies, abCtx, { cacheRepo: repo, output: false, epoch: 1_700_000_000 });
    const layer = (await entriesOf(a, repo)).get('a')?.layer as Descriptor;
    const data = path.join(registry.storageDir, 'docker/registry/v2/blobs/sha256', digestHex(layer.digest).slice(0, 2), digestHex(layer.digest), 'data');
    const bytes = readFileSync(data);
    bytes.writeUInt8((bytes.readUInt8(bytes.length - 1) ^ 0xff), bytes.length - 1);
    writeFileSync(data, bytes);

    const b = await machineBuild(machine(), twoCopies, abCtx, { cacheRepo: repo, epoch: 1_700_000_000 });
    expect(b.warnings).toHaveLength(1);
    expect(b.warnings[0]).toContain(`wrong layer ${layer.digest}`);
    expect(b.steps.map(([, c]) => c)).toEqual([false, true]);
    expect(b.digest).toBe(first.digest);
  }, 300_000);

  it('a cached layer the registry lost after the lookup: the step is built again (and stored again), not a failed build', async () => {
    const abCtx = makeContext({ 'a.txt': 'a lost', 'b.txt': 'b lost' }); // blobs of their own: the registry stores each blob once, for every repository
    const repo = `${host}/lost/cache`;
    const a = machine();
    const first = await machineBuild(a, twoCopies, abCtx, { cacheRepo: repo, output: false, epoch: 1_700_000_000 });
    const layer = (await entriesOf(a, repo)).get('a')?.layer as Descriptor;
    const deleted = await fetch(`${registry.url}/v2/lost/cache/blobs/${layer.digest}`, { method: 'DELETE' });
    expect(deleted.status).toBe(202);

    const b = await machineBuild(machine(), twoCopies, abCtx, { cacheRepo: repo, epoch: 1_700_000_000 });
    expect(b.warnings).toHaveLength(1);
    expect(b.warnings[0]).toContain(`no longer has layer ${layer.digest}`);
    expect(b.steps.map(([, c]) => c)).toEqual([false, true]);
    expect(b.digest).toBe(first.digest);
    // The step that ran again put its layer back: a third machine hits both steps, quietly.
    const c = await machineBuild(machine(), twoCopies, abCtx, { cacheRepo: repo, epoch: 1_700_000_000 });
    expect(c.warnings).toEqual([]);
    expect(c.steps.map(([, hit]) => hit)).toEqual([true, true]);
    expect(c.digest).toBe(first.digest);
  }, 300_000);

  it('a cache registry that fails while a hit\'s layer is read: one warning, and the build goes on without it', async () => {
    const abCtx = makeContext({ 'a.txt': 'a flaky', 'b.txt': 'b flaky' });
    const repo = `${host}/flaky/cache`;
    const first = await machineBuild(machine(), twoCopies, abCtx, { cacheRepo: repo, output: false, epoch: 1_700_000_000 });
    proxy.setFaults([{ kind: 'status', status: 500, times: 1_000_000, method: 'GET', match: /^\/v2\/flaky\/cache\/blobs\// }]);
    try {
      const b = await machineBuild(machine(), twoCopies, abCtx, { cacheRepo: repo, epoch: 1_700_000_000 });
      expect(b.warnings).toHaveLength(1);
      expect(b.warnings[0]).toContain(`could not read a cached layer from the cache repository ${repo}`);
      // The try after it asks the cache registry nothing: both steps ran, and made the first machine's image.
      expect(b.steps.map(([, c]) => c)).toEqual([false, false]);
      expect(b.digest).toBe(first.digest);
    } finally {
      proxy.setFaults([]);
    }
  }, 300_000);

  it('the tag of a key', () => {
    const key = `sha256:${'ab'.repeat(32)}` as Digest;
    expect(cacheTag(key)).toBe(`hoist-${'ab'.repeat(32)}`);
    expect(cacheTag(key).length).toBeLessThanOrEqual(128);
  });
});
