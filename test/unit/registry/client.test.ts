import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { RegistryClient } from '../../../registry/client.js';
import type { RegistryError } from '../../../registry/errors.js';
import { staticKeychain } from '../../../registry/keychain/index.js';
import { MAX_MANIFEST_BYTES } from '../../../registry/manifests.js';
import { MediaType, parseReference, type Descriptor, type Digest } from '../../../src/oci/index.js';
import { seedBlob, sha256, startFakeRegistry, type FakeRegistry } from './fake-registry.js';
import { apiRequests } from './local-server.js';

const fast = { baseDelayMs: 5, maxDelayMs: 20 };
let reg: FakeRegistry;
let client: RegistryClient;

beforeEach(async () => {
  reg = await startFakeRegistry();
  client = new RegistryClient({ keychain: staticKeychain({}), retry: fast, monolithicUploadLimit: 1024 });
});
afterEach(async () => {
  await client.close();
  await reg.close();
});

const manifest = (extra: Record<string, unknown> = {}): Buffer =>
  Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: sha256('{}'), size: 2 },
      layers: [],
      ...extra,
    }),
  );

function desc(data: Buffer): Descriptor {
  return { mediaType: MediaType.OciLayerGzip, digest: sha256(data) as Digest, size: data.length };
}

const opener = (data: Buffer) => async () => Readable.from([data]);

describe('manifests', () => {
  test('put, get by tag and by digest, head', async () => {
    const raw = manifest();
    const ref = parseReference(`${reg.host}/app:v1`);
    const digest = await client.putManifest(ref, raw, MediaType.OciManifest);
    expect(digest).toBe(sha256(raw));
    const put = reg.requests.find((r) => r.method === 'PUT');
    expect(put?.url).toBe('/v2/app/manifests/v1');
    expect(put?.headers['content-type']).toBe(MediaType.OciManifest);

    const got = await client.getManifest(ref);
    expect(got.raw.equals(raw)).toBe(true);
    expect(got.mediaType).toBe(MediaType.OciManifest);
    expect(got.digest).toBe(digest);
    const get = reg.requests.find((r) => r.method === 'GET' && r.url === '/v2/app/manifests/v1');
    expect(get?.headers.accept).toContain(MediaType.OciIndex);
    expect(get?.headers.accept).toContain(MediaType.DockerManifest);

    expect((await client.getManifest(ref.repository().withDigest(digest))).raw.equals(raw)).toBe(true);
    expect(await client.headManifest(ref)).toEqual({ mediaType: MediaType.OciManifest, digest, size: raw.length });
    expect(await client.headManifest(parseReference(`${reg.host}/app:nope`))).toBeUndefined();
  });

  test('pulled by digest: content that does not match is refused', async () => {
    const raw = manifest();
    const wrong = parseReference(`${reg.host}/app@${sha256('something else')}`);
    reg.hook = (req, res) => {
      if (!req.url?.includes('/manifests/')) return false;
      res.writeHead(200, { 'content-type': MediaType.OciManifest }).end(raw);
      return true;
    };
    const err = (await client.getManifest(wrong).catch((e: unknown) => e)) as RegistryError;
    expect(err.code).toBe('DIGEST_MISMATCH');
    expect(err.message).toContain(sha256(raw));
  });

  test('manifest unknown: the OCI code and the reference are named, with a hint', async () => {
    const err = (await client.getManifest(parseReference(`${reg.host}/app:missing`)).catch((e: unknown) => e)) as RegistryError;
    expect(err.code).toBe('REGISTRY_NOT_FOUND');
    expect(err.status).toBe(404);
    expect(err.ociErrors).toEqual([{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }]);
    expect(err.message).toBe(`GET manifest ${reg.host}/app:missing: MANIFEST_UNKNOWN: manifest unknown (HTTP 404)`);
    expect(err.hint).toBe('check the name and tag');
  });

  test('schema 1 manifests are refused clearly', async () => {
    reg.hook = (req, res) => {
      if (!req.url?.includes('/manifests/')) return false;
      res.writeHead(200, { 'content-type': MediaType.DockerManifestSchema1Signed }).end('{"schemaVersion":1,"name":"app"}');
      return true;
    };
    const err = (await client.getManifest(parseReference(`${reg.host}/app:old`)).catch((e: unknown) => e)) as RegistryError;
    expect(err.code).toBe('UNSUPPORTED_MANIFEST');
    expect(err.message).toMatch(/Docker schema 1 manifest/);
  });

  test('schema 1 is recognised by content even with a generic content type', async () => {
    reg.hook = (req, res) => {
      if (!req.url?.includes('/manifests/')) return false;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"schemaVersion":1,"name":"app"}');
      return true;
    };
    const err = (await client.getManifest(parseReference(`${reg.host}/app:old`)).catch((e: unknown) => e)) as RegistryError;
    expect(err.code).toBe('UNSUPPORTED_MANIFEST');
  });

  test('manifests over 4 MiB are refused, declared or streamed', async () => {
    const big = Buffer.alloc(MAX_MANIFEST_BYTES + 10, 0x20);
    let chunked = false;
    reg.hook = (req, res) => {
      if (!req.url?.includes('/manifests/')) return false;
      if (chunked) {
        res.writeHead(200, { 'content-type': MediaType.OciManifest });
        res.end(big); // node sends this chunked: no Content-Length
      } else {
        res.writeHead(200, { 'content-type': MediaType.OciManifest, 'content-length': big.length }).end(big);
      }
      return true;
    };
    const ref = parseReference(`${reg.host}/app:big`);
    expect(((await client.getManifest(ref).catch((e: unknown) => e)) as RegistryError).code).toBe('MANIFEST_TOO_LARGE');
    chunked = true;
    expect(((await client.getManifest(ref).catch((e: unknown) => e)) as RegistryError).code).toBe('MANIFEST_TOO_LARGE');
    expect(((await client.putManifest(ref, big, MediaType.OciManifest).catch((e: unknown) => e)) as RegistryError).code).toBe(
      'MANIFEST_TOO_LARGE',
    );
  });

  test('the media type comes from the document, else the content type, else the shape', async () => {
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [] }));
    reg.hook = (req, res) => {
      if (!req.url?.includes('/manifests/')) return false;
      res.writeHead(200, { 'content-type': 'application/json' }).end(index);
      return true;
    };
    expect((await client.getManifest(parseReference(`${reg.host}/app:i`))).mediaType).toBe(MediaType.OciIndex);
  });
});

describe('pushBlob', () => {
  test('HEAD first: a blob the repository has is not uploaded', async () => {
    const data = Buffer.from('present');
    seedBlob(reg, 'app', data);
    expect(await client.pushBlob(parseReference(`${reg.host}/app`), desc(data), opener(data))).toBe('exists');
    expect(apiRequests(reg).map((r) => r.method)).toEqual(['HEAD']);
  });

  test('small blobs: POST then one PUT with the body; a relative Location keeps its query', async () => {
    const data = Buffer.from('small blob');
    expect(await client.pushBlob(parseReference(`${reg.host}/app`), desc(data), opener(data))).toBe('uploaded');
    const calls = apiRequests(reg);
    expect(calls.map((r) => r.method)).toEqual(['HEAD', 'POST', 'PUT']);
    const putUrl = new URL(calls[2]?.url ?? '', 'http://x');
    expect(putUrl.searchParams.get('_state')).toBe('abc');
    expect(putUrl.searchParams.get('digest')).toBe(sha256(data));
    expect(calls[2]?.body.equals(data)).toBe(true);
    expect(reg.blobs.get(sha256(data))?.equals(data)).toBe(true);
  });

  test('large blobs: streamed PATCH then PUT; an absolute Location works too', async () => {
    reg.locationStyle = 'absolute';
    const data = randomBytes(5000);
    expect(await client.pushBlob(parseReference(`${reg.host}/app`), desc(data), opener(data))).toBe('uploaded');
    const calls = apiRequests(reg);
    expect(calls.map((r) => r.method)).toEqual(['HEAD', 'POST', 'PATCH', 'PUT']);
    expect(calls[2]?.headers['content-range']).toBe('0-4999');
    expect(calls[3]?.body.length).toBe(0);
    expect(reg.blobs.get(sha256(data))?.equals(data)).toBe(true);
  });

  test('a blob seen in another repository is mounted, not uploaded', async () => {
    const data = Buffer.from('shared layer');
    seedBlob(reg, 'base', data);
    const base = parseReference(`${reg.host}/base`);
    expect(await client.blobExists(base, desc(data).digest)).toBe(true);
    expect(await client.pushBlob(parseReference(`${reg.host}/app`), desc(data), opener(data))).toBe('mounted');
    const post = apiRequests(reg).find((r) => r.method === 'POST');
    const q = new URL(post?.url ?? '', 'http://x').searchParams;
    expect(q.get('mount')).toBe(sha256(data));
    expect(q.get('from')).toBe('base');
    expect(apiRequests(reg).some((r) => r.method === 'PUT' || r.method === 'PATCH')).toBe(false);
  });

  test('a declined mount (202) continues as an upload in the session it opened', async () => {
    const data = Buffer.from('not really there');
    reg.blobs.set(sha256(data), data);
    reg.links.set('base', new Set([sha256(data)]));
    await client.blobExists(parseReference(`${reg.host}/base`), desc(data).digest);
    reg.links.delete('base'); // the registry no longer has it there
    expect(await client.pushBlob(parseReference(`${reg.host}/app`), desc(data), opener(data))).toBe('uploaded');
    expect(apiRequests(reg).filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  test('a failed upload restarts with a new session and a reopened body', async () => {
    const data = Buffer.from('retry me');
    let failed = false;
    reg.hook = (req, res) => {
      if (req.method === 'PUT' && !failed) {
        failed = true;
        res.writeHead(503).end();
        return true;
      }
      return false;
    };
    let opened = 0;
    const open = async () => {
      opened++;
      return Readable.from([data]);
    };
    expect(await client.pushBlob(parseReference(`${reg.host}/app`), desc(data), open)).toBe('uploaded');
    expect(opened).toBe(2);
    expect(apiRequests(reg).map((r) => r.method)).toEqual(['HEAD', 'POST', 'PUT', 'POST', 'PUT']);
  });

  test('local content of the wrong length is not pushed (the registry checks the digest itself)', async () => {
    const data = Buffer.from('claimed');
    const err = await client
      .pushBlob(parseReference(`${reg.host}/app`), desc(data), opener(Buffer.from('actual content, longer')))
      .catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('DIGEST_MISMATCH');
    expect(reg.blobs.size).toBe(0);
  });
});

describe('endpoints', () => {
  test('a plain-http registry named insecure falls back from https to http', async () => {
    const c = new RegistryClient({ keychain: staticKeychain({}), insecureRegistries: [reg.host], retry: fast });
    try {
      reg.tags.set('app', new Map([['x', 'y']]));
      expect(await c.listTags(parseReference(`${reg.host}/app`))).toEqual(['x']);
    } finally {
      await c.close();
    }
  });

  test('an unreachable registry: REGISTRY_UNREACHABLE naming the operation', async () => {
    const host = reg.host;
    await reg.close();
    const c = new RegistryClient({ keychain: staticKeychain({}), retry: { ...fast, maxAttempts: 2 } });
    try {
      const err = (await c.getManifest(parseReference(`${host}/app:1`)).catch((e: unknown) => e)) as RegistryError;
      expect(err.code).toBe('REGISTRY_UNREACHABLE');
      expect(err.message).toMatch(new RegExp(`^GET manifest ${host}/app:1: cannot reach ${host}`));
    } finally {
      await c.close();
    }
  });
});

describe('listTags', () => {
  test('follows Link rel="next" across pages', async () => {
    const tags = Array.from({ length: 7 }, (_, i) => `t${i}`);
    reg.tags.set('app', new Map(tags.map((t) => [t, 'x'])));
    expect(await client.listTags(parseReference(`${reg.host}/app`), { pageSize: 2 })).toEqual(tags);
    const pages = apiRequests(reg).filter((r) => r.url.includes('/tags/list'));
    expect(pages).toHaveLength(4);
    expect(pages[0]?.url).toBe('/v2/app/tags/list?n=2');
    expect(pages[1]?.url).toBe('/v2/app/tags/list?last=t1&n=2');
  });

  test('an empty repository (tags: null) has no tags', async () => {
    reg.hook = (req, res) => {
      if (!req.url?.includes('/tags/list')) return false;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"name":"app","tags":null}');
      return true;
    };
    expect(await client.listTags(parseReference(`${reg.host}/app`))).toEqual([]);
  });
});
