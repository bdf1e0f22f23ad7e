/**
 * Faults injected by a proxy in front of a real registry: transient 5xx and
 * 429, a connection reset in the middle of a blob, slow answers, and
 * corrupted content.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { RegistryClient, RegistrySink, RegistrySource, type RegistryClientOptions } from '../../../registry/index.js';
import { anonymousKeychain } from '../../../registry/keychain/index.js';
import { BlobStore, parseReference, type Descriptor, type Digest } from '../../../src/oci/index.js';
import { pushTestImage, startFaultProxy, startRegistry, type FaultProxy, type PushedTestImage, type RunningRegistry } from '../../helpers/registry/index.js';
import { makeImage, readAll } from './images.js';

let reg: RunningRegistry;
let proxy: FaultProxy;
let dir: string;
let pushed: PushedTestImage;
const clients: RegistryClient[] = [];

function client(opts: Partial<RegistryClientOptions> = {}): RegistryClient {
  const c = new RegistryClient({ keychain: anonymousKeychain(), retry: { baseDelayMs: 20, maxDelayMs: 100 }, ...opts });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  reg = await startRegistry();
  proxy = await startFaultProxy(reg.url);
  dir = await mkdtemp(join(tmpdir(), 'hoist-faults-'));
  pushed = await pushTestImage(reg, 'faults/app', 'v1', { layers: 2, layerSize: 300_000 });
});
beforeEach(() => {
  proxy.setFaults([]);
  proxy.resetHits();
});
afterAll(async () => {
  for (const c of clients) await c.close();
  await proxy?.stop();
  await reg?.stop();
  await rm(dir, { recursive: true, force: true });
});

const ref = () => parseReference(`${proxy.host}/faults/app:v1`);
const bigLayer = (): Descriptor => {
  const l = pushed.layers[1]!;
  return { mediaType: pushed.manifests[0]!.layers[1]!.mediaType, digest: l.digest as Digest, size: l.size };
};

describe('transient failures', () => {
  test('503 on the first two tries of a manifest GET, then success', async () => {
    proxy.setFaults([{ kind: 'status', status: 503, times: 2, match: /\/manifests\//, method: 'GET' }]);
    const got = await client().getManifest(ref());
    expect(got.digest).toBe(pushed.manifestDigest);
    expect(proxy.requests().filter((r) => r.url.includes('/manifests/')).map((r) => r.status)).toEqual([503, 503, 200]);
  });

  test('429 with Retry-After, then success', async () => {
    proxy.setFaults([{ kind: 'status', status: 429, times: 1, match: /\/manifests\//, headers: { 'retry-after': '1' } }]);
    const t0 = Date.now();
    expect((await client().getManifest(ref())).digest).toBe(pushed.manifestDigest);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
  });

  test('503 for longer than the retry budget: the error names the status', async () => {
    proxy.setFaults([{ kind: 'status', status: 503, times: 10, match: /\/manifests\// }]);
    const err = await client({ retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 10 } })
      .getManifest(ref())
      .catch((e: unknown) => e);
    expect((err as { status?: number }).status).toBe(503);
    expect((err as { hint?: string }).hint).toMatch(/try again later/);
    expect(proxy.requests().filter((r) => r.url.includes('/manifests/'))).toHaveLength(3);
  });

  test('a manifest PUT answered MANIFEST_BLOB_UNKNOWN (another client linking the same blob) is tried again, a few times, and no other 400 is', async () => {
    const blobUnknown = JSON.stringify({ errors: [{ code: 'DIGEST_INVALID', message: 'provided digest did not match uploaded content' }, { code: 'MANIFEST_BLOB_UNKNOWN', message: 'blob unknown to registry' }] });
    const { img } = await makeImage('racing-push', 5_000);
    proxy.setFaults([{ kind: 'status', status: 400, times: 2, match: /\/manifests\//, method: 'PUT', headers: { 'content-type': 'application/json' }, body: blobUnknown }]);
    expect(await new RegistrySink(client()).write(img, [parseReference(`${proxy.host}/faults/racing:1`)])).toBe(await img.digest());
    expect(proxy.requests().filter((r) => r.method === 'PUT' && r.url.includes('/manifests/')).map((r) => r.status)).toEqual([400, 400, 201]);

    // Still unknown after the retries: the registry's words reach the error.
    proxy.resetHits();
    proxy.setFaults([{ kind: 'status', status: 400, times: 10, match: /\/manifests\//, method: 'PUT', headers: { 'content-type': 'application/json' }, body: blobUnknown }]);
    const lasting = await new RegistrySink(client()).write(img, [parseReference(`${proxy.host}/faults/racing:2`)]).catch((e: unknown) => e);
    expect((lasting as Error).message).toMatch(/MANIFEST_BLOB_UNKNOWN: blob unknown to registry \(HTTP 400\)/);
    expect(proxy.requests().filter((r) => r.method === 'PUT' && r.url.includes('/manifests/'))).toHaveLength(4);

    // Another 400 (an invalid manifest) is the client's mistake: one try.
    proxy.resetHits();
    const invalid = JSON.stringify({ errors: [{ code: 'MANIFEST_INVALID', message: 'manifest invalid' }] });
    proxy.setFaults([{ kind: 'status', status: 400, times: 10, match: /\/manifests\//, method: 'PUT', headers: { 'content-type': 'application/json' }, body: invalid }]);
    const wrong = await new RegistrySink(client()).write(img, [parseReference(`${proxy.host}/faults/racing:3`)]).catch((e: unknown) => e);
    expect((wrong as Error).message).toMatch(/MANIFEST_INVALID/);
    expect(proxy.requests().filter((r) => r.method === 'PUT' && r.url.includes('/manifests/'))).toHaveLength(1);
  });

  test('503 on blob upload PUTs: the upload restarts and the push succeeds', async () => {
    const { img } = await makeImage('faulty-push', 20_000);
    proxy.setFaults([{ kind: 'status', status: 503, times: 2, match: /\/blobs\/uploads\//, method: 'PUT' }]);
    const digest = await new RegistrySink(client()).write(img, [parseReference(`${proxy.host}/faults/pushed:1`)]);
    expect(digest).toBe(await img.digest());
    expect(proxy.requests().filter((r) => r.method === 'PUT' && r.status === 503)).toHaveLength(2);
    const back = await new RegistrySource(client()).image(parseReference(`${reg.host}/faults/pushed:1`));
    for (const l of await back.layers()) await readAll(await l.compressed());
  });
});

describe('blob downloads', () => {
  test('a connection reset mid-blob resumes with Range and the content verifies', async () => {
    const desc = bigLayer();
    proxy.setFaults([{ kind: 'reset-mid-body', match: new RegExp(`/blobs/${desc.digest}`), afterBytes: 100_000, times: 1 }]);
    const store = new BlobStore(join(dir, 'resume'));
    await client().pullBlob(parseReference(`${proxy.host}/faults/app`), desc, store);
    expect(await store.has(desc.digest)).toBe(true);
    const gets = proxy.requests().filter((r) => r.url.endsWith(desc.digest));
    expect(gets.map((r) => r.faults)).toEqual([['reset-mid-body'], []]);
    expect(gets[1]?.status).toBe(206);
  });

  test('slow answers still succeed within the timeouts', async () => {
    proxy.setFaults([{ kind: 'delay', ms: 400, times: 4 }]);
    const t0 = Date.now();
    const img = await new RegistrySource(client(), { store: new BlobStore(join(dir, 'slow')) }).image(ref());
    expect(await img.digest()).toBe(pushed.manifestDigest);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1200);
  });

  test('a response slower than the headers timeout is retried', async () => {
    proxy.setFaults([{ kind: 'delay', ms: 1500, times: 1, match: /\/manifests\// }]);
    const c = client({ timeouts: { headersMs: 500 } });
    expect((await c.getManifest(ref())).digest).toBe(pushed.manifestDigest);
  });

  test('corrupt content: DIGEST_MISMATCH, and nothing is stored', async () => {
    const desc = bigLayer();
    proxy.setFaults([{ kind: 'corrupt-body', match: /\/blobs\// }]);
    const storeDir = join(dir, 'corrupt');
    const store = new BlobStore(storeDir);
    const err = await client().pullBlob(parseReference(`${proxy.host}/faults/app`), desc, store).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('DIGEST_MISMATCH');
    expect((err as Error).message).toContain(`blob ${desc.digest} from ${proxy.host}/faults/app`);
    expect(await store.has(desc.digest)).toBe(false);
    expect(await readdir(join(storeDir, 'blobs', 'sha256')).catch(() => [])).toEqual([]);

    // Through the source: the image's layer read fails the same way.
    const img = await new RegistrySource(client(), { store }).image(ref()).catch((e: unknown) => e);
    expect((img as { code?: string }).code).toBe('DIGEST_MISMATCH'); // the config is corrupted too
  });
});
