import { createHash } from 'node:crypto';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  MEDIA,
  basicAuth,
  pushTestImage,
  startFaultProxy,
  startRegistry,
  type FaultProxy,
  type PushedTestImage,
  type RunningRegistry,
} from '../../helpers/registry/index.js';
import { header, http } from './util.js';

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Read a response body until it ends or the connection breaks; report what arrived. */
async function readUntilError(url: string): Promise<{ status: number; received: number; contentLength: number; error?: Error }> {
  const res = await request(url);
  const contentLength = Number(res.headers['content-length']);
  let received = 0;
  try {
    for await (const c of res.body) received += (c as Buffer).length;
    return { status: res.statusCode, received, contentLength };
  } catch (e) {
    return { status: res.statusCode, received, contentLength, error: e as Error };
  }
}

describe('fault proxy in front of a plain registry', () => {
  let reg: RunningRegistry;
  let proxy: FaultProxy;
  let pushed: PushedTestImage;
  let blobUrl: string;
  let layer: { digest: string; size: number };

  beforeAll(async () => {
    reg = await startRegistry();
    pushed = await pushTestImage(reg, 'fp/img', 'v1', { layers: 1, layerSize: 200_000 });
    layer = pushed.layers[0]!;
    proxy = await startFaultProxy(reg.url);
    blobUrl = `${proxy.url}/v2/fp/img/blobs/${layer.digest}`;
  });
  afterEach(() => {
    proxy.setFaults([]);
    proxy.resetHits();
  });
  afterAll(async () => {
    await proxy?.stop();
    await reg?.stop();
  });

  it('passes everything through unchanged, counting hits', async () => {
    expect(proxy.url).toBe(`http://${proxy.host}`);
    const ping = await http(`${proxy.url}/v2/`);
    expect(ping.status).toBe(200);
    const m = await http(`${proxy.url}/v2/fp/img/manifests/v1`, { headers: { accept: MEDIA.ociManifest } });
    expect(m.status).toBe(200);
    expect(sha(m.body)).toBe(pushed.manifestDigest);
    expect(header(m, 'docker-content-digest')).toBe(pushed.manifestDigest);
    const b = await http(blobUrl);
    expect(sha(b.body)).toBe(layer.digest);
    expect(proxy.hits()).toBe(3);
    expect(proxy.requests().map((r) => [r.method, r.status])).toEqual([
      ['GET', 200],
      ['GET', 200],
      ['GET', 200],
    ]);
  });

  it('forwards Range requests', async () => {
    const r = await http(blobUrl, { headers: { range: 'bytes=0-99' } });
    expect(r.status).toBe(206);
    expect(r.body.length).toBe(100);
    expect(header(r, 'content-range')).toBe(`bytes 0-99/${layer.size}`);
  });

  it("status: the first N matching requests get the status, then it passes through", async () => {
    proxy.setFaults([{ kind: 'status', status: 503, times: 2, match: /\/blobs\//, headers: { 'retry-after': '0' } }]);
    const a = await http(blobUrl);
    const b = await http(blobUrl);
    const other = await http(`${proxy.url}/v2/`); // does not match
    const c = await http(blobUrl);
    expect([a.status, b.status, other.status, c.status]).toEqual([503, 503, 200, 200]);
    expect(header(a, 'retry-after')).toBe('0');
    expect(JSON.parse(a.body.toString('utf8'))).toMatchObject({ errors: [{ code: 'UNAVAILABLE' }] });
    expect(sha(c.body)).toBe(layer.digest);
    expect(proxy.hits()).toBe(4);
    expect(proxy.requests().map((r) => r.faults)).toEqual([['status'], ['status'], [], []]);
  });

  it('status with a method filter only hits that method (e.g. a failing upload PUT)', async () => {
    proxy.setFaults([{ kind: 'status', status: 500, times: 1, method: 'PUT', match: /\/blobs\/uploads\// }]);
    const head = await http(blobUrl, { method: 'HEAD' });
    expect(head.status).toBe(200);
    const post = await http(`${proxy.url}/v2/fp/up/blobs/uploads/`, { method: 'POST' });
    expect(post.status).toBe(202);
    const data = Buffer.from('retry me');
    const loc = new URL(header(post, 'location')!);
    loc.searchParams.set('digest', sha(data));
    const put1 = await http(loc.toString(), { method: 'PUT', body: data });
    expect(put1.status).toBe(500);
    const put2 = await http(loc.toString(), { method: 'PUT', body: data });
    expect(put2.status).toBe(201);
  });

  it('reset-mid-body: the connection breaks after exactly afterBytes of the body, once', async () => {
    proxy.setFaults([{ kind: 'reset-mid-body', match: /\/blobs\/sha256:/, afterBytes: 50_000, times: 1 }]);
    const broken = await readUntilError(blobUrl);
    expect(broken.status).toBe(200);
    expect(broken.contentLength).toBe(layer.size); // the headers promise the whole blob
    expect(broken.error).toBeDefined();
    expect(broken.received).toBe(50_000);
    const fine = await readUntilError(blobUrl);
    expect(fine.error).toBeUndefined();
    expect(fine.received).toBe(layer.size);
    expect(proxy.requests().map((r) => r.faults)).toEqual([['reset-mid-body'], []]);
  });

  it('reset-mid-body with a Range resume gets the rest', async () => {
    proxy.setFaults([{ kind: 'reset-mid-body', match: /\/blobs\/sha256:/, afterBytes: 1000, times: 1 }]);
    const res = await request(blobUrl);
    const chunks: Buffer[] = [];
    await expect(
      (async () => {
        for await (const c of res.body) chunks.push(c as Buffer);
      })(),
    ).rejects.toThrow();
    const head = Buffer.concat(chunks);
    expect(head.length).toBe(1000);
    const rest = await http(blobUrl, { headers: { range: `bytes=${head.length}-` } });
    expect(rest.status).toBe(206);
    expect(sha(Buffer.concat([head, rest.body]))).toBe(layer.digest);
  });

  it('reset-mid-body does not fire on HEAD or non-2xx answers (no tries used)', async () => {
    proxy.setFaults([{ kind: 'reset-mid-body', match: /\/blobs\//, afterBytes: 10, times: 1 }]);
    const head = await http(blobUrl, { method: 'HEAD' });
    expect(head.status).toBe(200);
    const missing = await http(`${proxy.url}/v2/fp/img/blobs/sha256:${'0'.repeat(64)}`);
    expect(missing.status).toBe(404);
    const broken = await readUntilError(blobUrl);
    expect(broken.error).toBeDefined();
  });

  it('delay: matching requests wait, the others do not', async () => {
    proxy.setFaults([{ kind: 'delay', ms: 400, match: /\/manifests\//, times: 1 }]);
    await http(`${proxy.url}/v2/`);
    const t = Date.now();
    const m = await http(`${proxy.url}/v2/fp/img/manifests/v1`, { headers: { accept: MEDIA.ociManifest } });
    expect(Date.now() - t).toBeGreaterThanOrEqual(395);
    expect(m.status).toBe(200);
    await http(`${proxy.url}/v2/fp/img/manifests/v1`, { headers: { accept: MEDIA.ociManifest } });
    // Upper bounds on time are flaky on a busy machine: the proxy's log says which requests waited.
    expect(proxy.requests().map((r) => r.faults)).toEqual([[], ['delay'], []]);
  });

  it('delay combines with a status fault (slow, then failing)', async () => {
    proxy.setFaults([
      { kind: 'delay', ms: 200, times: 1 },
      { kind: 'status', status: 429, times: 1 },
    ]);
    const t = Date.now();
    const r = await http(`${proxy.url}/v2/`);
    expect(r.status).toBe(429);
    expect(Date.now() - t).toBeGreaterThanOrEqual(195);
    expect(proxy.requests()[0]!.faults).toEqual(['delay', 'status']);
  });

  it('corrupt-body: same length, different bytes, wrong digest; the next answer is clean', async () => {
    proxy.setFaults([{ kind: 'corrupt-body', match: /\/blobs\/sha256:/, times: 1 }]);
    const bad = await http(blobUrl);
    expect(bad.status).toBe(200);
    expect(bad.body.length).toBe(layer.size);
    expect(sha(bad.body)).not.toBe(layer.digest);
    expect(header(bad, 'docker-content-digest')).toBe(layer.digest); // the headers still claim the real digest
    const good = await http(blobUrl);
    expect(sha(good.body)).toBe(layer.digest);
  });

  it('corrupt-body on manifests breaks their digest too (times omitted = always)', async () => {
    proxy.setFaults([{ kind: 'corrupt-body', match: /\/manifests\// }]);
    for (let i = 0; i < 2; i++) {
      const m = await http(`${proxy.url}/v2/fp/img/manifests/v1`, { headers: { accept: MEDIA.ociManifest } });
      expect(m.status).toBe(200);
      expect(sha(m.body)).not.toBe(pushed.manifestDigest);
    }
  });

  it('upload Locations point back at the proxy, and a whole push through the proxy works', async () => {
    const post = await http(`${proxy.url}/v2/fp/through/blobs/uploads/`, { method: 'POST' });
    expect(post.status).toBe(202);
    expect(header(post, 'location')!.startsWith(`${proxy.url}/v2/fp/through/blobs/uploads/`)).toBe(true);
    proxy.resetHits();
    const p = await pushTestImage({ url: proxy.url, dispatcher: reg.dispatcher }, 'fp/through', 'v1');
    expect(proxy.hits()).toBeGreaterThanOrEqual(7); // HEAD+POST+PUT per blob, manifest PUT
    const m = await http(`${reg.url}/v2/fp/through/manifests/v1`, { headers: { accept: MEDIA.ociManifest } });
    expect(sha(m.body)).toBe(p.manifestDigest);
  });
});

describe('fault proxy in front of a TLS registry', () => {
  let reg: RunningRegistry;
  let proxy: FaultProxy;
  beforeAll(async () => {
    reg = await startRegistry({ auth: 'htpasswd' });
    proxy = await startFaultProxy(reg.url, { ca: reg.caCertPem! });
  });
  afterAll(async () => {
    await proxy?.stop();
    await reg?.stop();
  });

  it('speaks plain HTTP to the client and HTTPS to the target; Locations are rewritten to http://proxy', async () => {
    const auth = basicAuth({ username: reg.username!, password: reg.password! });
    const anon = await http(`${proxy.url}/v2/`);
    expect(anon.status).toBe(401);
    expect(header(anon, 'www-authenticate')).toBe('Basic realm="hoist-test-registry"');
    const post = await http(`${proxy.url}/v2/tp/x/blobs/uploads/`, { method: 'POST', headers: { authorization: auth } });
    expect(post.status).toBe(202);
    expect(header(post, 'location')!.startsWith(`${proxy.url}/v2/tp/x/blobs/uploads/`)).toBe(true);
  });
});
