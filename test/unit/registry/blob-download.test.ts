import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { text } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { RegistryClient } from '../../../registry/client.js';
import { staticKeychain } from '../../../registry/keychain/index.js';
import { BlobStore, parseReference, type Descriptor, type Digest } from '../../../src/oci/index.js';
import { seedBlob, sha256, startFakeRegistry, type FakeRegistry } from './fake-registry.js';
import { startServer, type LocalServer } from './local-server.js';

const fast = { baseDelayMs: 5, maxDelayMs: 20 };
let reg: FakeRegistry;
let client: RegistryClient;
let extra: LocalServer[] = [];
let dir: string;

beforeEach(async () => {
  reg = await startFakeRegistry();
  client = new RegistryClient({ keychain: staticKeychain({}), retry: fast });
  dir = await mkdtemp(join(tmpdir(), 'hoist-reg-'));
});
afterEach(async () => {
  await client.close();
  await reg.close();
  for (const s of extra) await s.close();
  extra = [];
  await rm(dir, { recursive: true, force: true });
});

function desc(data: Buffer): Descriptor {
  return { mediaType: 'application/octet-stream', digest: sha256(data) as Digest, size: data.length };
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('fetchBlob', () => {
  test('resumes with Range after the connection drops mid-body', async () => {
    const data = randomBytes(256 * 1024);
    const digest = seedBlob(reg, 'app', data);
    let drops = 0;
    reg.hook = (req, res) => {
      if (req.url?.includes('/blobs/') && req.headers.range === undefined && drops === 0) {
        drops++;
        res.writeHead(200, { 'content-length': data.length });
        res.write(data.subarray(0, 100_000), () => setTimeout(() => req.socket.destroy(), 20));
        return true;
      }
      return false;
    };
    const got = await readAll(await client.fetchBlob(parseReference(`${reg.host}/app`), desc(data)));
    expect(got.equals(data)).toBe(true);
    const gets = reg.requests.filter((r) => r.url === `/v2/app/blobs/${digest}`);
    expect(gets).toHaveLength(2);
    const resumedAt = Number(/bytes=(\d+)-/.exec(gets[1]?.headers.range ?? '')?.[1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(100_000);
  });

  test('a registry that ignores Range: the bytes already received are skipped', async () => {
    const data = randomBytes(200_000);
    seedBlob(reg, 'app', data);
    let n = 0;
    reg.hook = (req, res) => {
      if (!req.url?.includes('/blobs/')) return false;
      n++;
      res.writeHead(200, { 'content-length': data.length });
      if (n === 1) res.write(data.subarray(0, 70_000), () => setTimeout(() => req.socket.destroy(), 20));
      else res.end(data);
      return true;
    };
    const got = await readAll(await client.fetchBlob(parseReference(`${reg.host}/app`), desc(data)));
    expect(got.equals(data)).toBe(true);
    expect(n).toBe(2);
  });

  test('a consumer that gives up cancels the ranged request of a resume in progress', async () => {
    const data = randomBytes(200_000);
    seedBlob(reg, 'app', data);
    let held: { closed: Promise<void> } | undefined;
    let ranged!: () => void;
    const rangedSeen = new Promise<void>((resolve) => (ranged = resolve));
    reg.hook = (req, res) => {
      if (!req.url?.includes('/blobs/')) return false;
      if (req.headers.range === undefined) {
        res.writeHead(200, { 'content-length': data.length });
        res.write(data.subarray(0, 50_000), () => setTimeout(() => req.socket.destroy(), 20));
      } else {
        // Never answers: only the client can end this request.
        held = { closed: new Promise<void>((resolve) => res.once('close', () => resolve())) };
        ranged();
      }
      return true;
    };
    const stream = await client.fetchBlob(parseReference(`${reg.host}/app`), desc(data));
    stream.resume();
    stream.on('error', () => undefined);
    await rangedSeen;
    stream.destroy();
    const outcome = await Promise.race([held!.closed.then(() => 'cancelled'), new Promise((r) => setTimeout(() => r('still open'), 3000))]);
    expect(outcome).toBe('cancelled');
  });

  test('gives up after maxAttempts resumes with a clear error', async () => {
    const data = randomBytes(100_000);
    seedBlob(reg, 'app', data);
    reg.hook = (req, res) => {
      if (!req.url?.includes('/blobs/')) return false;
      res.writeHead(req.headers.range ? 206 : 200, { 'content-length': data.length });
      res.write(Buffer.alloc(0), () => setTimeout(() => req.socket.destroy(), 10));
      return true;
    };
    const c = new RegistryClient({ keychain: staticKeychain({}), retry: { ...fast, maxAttempts: 3 } });
    try {
      const err = await readAll(await c.fetchBlob(parseReference(`${reg.host}/app`), desc(data))).catch((e: unknown) => e);
      expect((err as Error).message).toMatch(/connection lost after 0 of 100000 bytes/);
      expect((err as { code?: string }).code).toBe('REGISTRY_UNREACHABLE');
    } finally {
      await c.close();
    }
  });

  test('corrupt content: DIGEST_MISMATCH, and pullBlob stores nothing', async () => {
    const data = Buffer.from('the real content');
    const d = desc(data);
    seedBlob(reg, 'app', data);
    reg.hook = (req, res) => {
      if (!req.url?.includes('/blobs/')) return false;
      const bad = Buffer.from(data);
      bad[0] = 0x58;
      res.writeHead(200, { 'content-length': bad.length }).end(bad);
      return true;
    };
    const store = new BlobStore(dir);
    const err = await client.pullBlob(parseReference(`${reg.host}/app`), d, store).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('DIGEST_MISMATCH');
    expect((err as Error).message).toContain(`blob ${d.digest} from ${reg.host}/app`);
    expect(await store.has(d.digest)).toBe(false);
    const left = await readdir(join(dir, 'blobs', 'sha256')).catch(() => []);
    expect(left).toEqual([]);
  });

  test('pullBlob stores verified content, and skips the download when the store has it', async () => {
    const data = Buffer.from('layer bytes');
    seedBlob(reg, 'app', data);
    const store = new BlobStore(dir);
    const repo = parseReference(`${reg.host}/app`);
    expect(await client.pullBlob(repo, desc(data), store)).toEqual({ digest: desc(data).digest, size: data.length });
    expect(await text(await store.open(desc(data).digest))).toBe('layer bytes');
    const before = reg.requests.length;
    await client.pullBlob(repo, desc(data), store);
    expect(reg.requests.length).toBe(before);
  });

  test('a missing blob: REGISTRY_NOT_FOUND with the OCI code', async () => {
    const err = await client.fetchBlob(parseReference(`${reg.host}/app`), desc(Buffer.from('nope'))).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('REGISTRY_NOT_FOUND');
    expect((err as Error).message).toMatch(/BLOB_UNKNOWN/);
    expect((err as { hint?: string }).hint).toBe('check the name and tag');
  });
});

describe('redirects', () => {
  test('a blob redirect to another host is followed without Authorization', async () => {
    const data = Buffer.from('blob stored elsewhere');
    const d = desc(data);
    const storage = await startServer((_req, res) => void res.writeHead(200, { 'content-length': data.length }).end(data));
    extra.push(storage);
    reg.hook = (req, res) => {
      if (req.headers.authorization !== 'Basic ' + Buffer.from('alice:s3cret').toString('base64')) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="test"' }).end();
        return true;
      }
      if (req.url === `/v2/app/blobs/${d.digest}`) {
        res.writeHead(307, { location: `${storage.url}/bucket/${d.digest}?X-Amz-Signature=abc` }).end();
        return true;
      }
      return false;
    };
    const c = new RegistryClient({
      keychain: staticKeychain({ [reg.host]: { kind: 'basic', username: 'alice', password: 's3cret' } }),
      retry: fast,
    });
    try {
      const got = await readAll(await c.fetchBlob(parseReference(`${reg.host}/app`), d));
      expect(got.equals(data)).toBe(true);
    } finally {
      await c.close();
    }
    expect(storage.requests).toHaveLength(1);
    expect(storage.requests[0]?.url).toBe(`/bucket/${d.digest}?X-Amz-Signature=abc`);
    expect(storage.requests[0]?.headers.authorization).toBeUndefined();
    const blobGet = reg.requests.find((r) => r.url === `/v2/app/blobs/${d.digest}`);
    expect(blobGet?.headers.authorization).toMatch(/^Basic /);
  });

  test('a relative redirect on the same registry keeps Authorization', async () => {
    const data = Buffer.from('moved');
    const d = desc(data);
    seedBlob(reg, 'other', data);
    reg.hook = (req, res) => {
      if (req.headers.authorization !== 'Bearer static-token') {
        res.writeHead(401).end();
        return true;
      }
      if (req.url === `/v2/app/blobs/${d.digest}`) {
        res.writeHead(302, { location: `/v2/other/blobs/${d.digest}` }).end();
        return true;
      }
      return false;
    };
    const c = new RegistryClient({ keychain: staticKeychain({ [reg.host]: { kind: 'registry-token', token: 'static-token' } }), retry: fast });
    try {
      expect((await readAll(await c.fetchBlob(parseReference(`${reg.host}/app`), d))).toString()).toBe('moved');
    } finally {
      await c.close();
    }
  });
});
