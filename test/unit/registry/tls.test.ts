import { createServer, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RegistryClient } from '../../../registry/client.js';
import type { RegistryError } from '../../../registry/errors.js';
import { staticKeychain } from '../../../registry/keychain/index.js';
import { connectOptions, loadConnectTls, readSystemCaBundle, speaksTls } from '../../../registry/tls.js';
import { parseReference } from '../../../src/oci/index.js';
import { startTlsRegistry, type Pem, type TlsRegistry } from './tls-fixtures.js';

let tlsRegistry: TlsRegistry;
let dir: string;
let pem: Pem;
let host: string;

beforeAll(async () => {
  tlsRegistry = await startTlsRegistry('hoist-tls-unit-');
  ({ dir, pem, host } = tlsRegistry);
});
afterAll(() => tlsRegistry.close());

describe('loadConnectTls', () => {
  test('certs.d: every *.crt is trusted and a .cert/.key pair is the client certificate', async () => {
    const d = join(dir, 'certs.d', 'reg.example:5000');
    await mkdir(d, { recursive: true });
    await writeFile(join(d, 'ca.crt'), 'CA-ONE');
    await writeFile(join(d, 'extra.crt'), 'CA-TWO');
    await writeFile(join(d, 'client.cert'), 'CLIENT-CERT');
    await writeFile(join(d, 'client.key'), 'CLIENT-KEY');
    const tls = await loadConnectTls('reg.example:5000', true, { certsDirs: [join(dir, 'nope'), join(dir, 'certs.d')], caFiles: [join(dir, 'ca.pem')] });
    expect(tls.rejectUnauthorized).toBe(true);
    expect(tls.ca?.slice(0, rootCertificates.length)).toEqual([...rootCertificates]);
    expect(tls.ca?.slice(rootCertificates.length)).toEqual([pem.certPem, 'CA-ONE', 'CA-TWO']);
    expect(tls.cert).toBe('CLIENT-CERT');
    expect(tls.key).toBe('CLIENT-KEY');
  });

  test('no extra CAs: Node defaults; insecure turns verification off', async () => {
    const tls = await loadConnectTls('other:1', false, { certsDirs: [join(dir, 'certs.d')] });
    expect(tls).toEqual({ rejectUnauthorized: false });
  });

  test('without verification no CA is loaded, however many are configured', async () => {
    const tls = await loadConnectTls('x', false, { caFiles: [join(dir, 'ca.pem')], certsDirs: [] }, 'SYSTEM');
    expect(tls).toEqual({ rejectUnauthorized: false });
  });

  test('connect options: one secure context for all connections, none when there is nothing to add', async () => {
    expect(connectOptions({ rejectUnauthorized: false })).toEqual({ rejectUnauthorized: false });
    const withCa = connectOptions({ rejectUnauthorized: true, ca: [pem.certPem] });
    expect(withCa.rejectUnauthorized).toBe(true);
    expect(withCa.secureContext?.context).toBeDefined();
    expect(Object.keys(withCa)).not.toContain('ca');
    const withClientCert = connectOptions({ rejectUnauthorized: false, cert: pem.certPem, key: pem.keyPem });
    expect(withClientCert.secureContext?.context).toBeDefined();
  });

  test('the system bundle is the first candidate that exists', async () => {
    await writeFile(join(dir, 'bundle.pem'), 'SYSTEM');
    expect(await readSystemCaBundle([join(dir, 'missing.pem'), join(dir, 'bundle.pem')])).toBe('SYSTEM');
    expect(await readSystemCaBundle([join(dir, 'missing.pem')])).toBeUndefined();
    const tls = await loadConnectTls('x', true, { certsDirs: [] }, 'SYSTEM');
    expect(tls.ca?.at(-1)).toBe('SYSTEM');
  });

  test('a missing CA file is a clear error', async () => {
    const err = (await loadConnectTls('x', true, { caFiles: [join(dir, 'absent.pem')] }).catch((e: unknown) => e)) as RegistryError;
    expect(err.code).toBe('REGISTRY_TLS');
    expect(err.message).toContain('absent.pem');
    expect(err.hint).toMatch(/--registry-ca/);
  });
});

describe('TLS through the client', () => {
  const client = (opts: Partial<ConstructorParameters<typeof RegistryClient>[0]>) =>
    new RegistryClient({ keychain: staticKeychain({}), certsDirs: [], systemCaBundles: [], retry: { maxAttempts: 2, baseDelayMs: 1 }, ...opts });

  test('untrusted certificate on a loopback registry: REGISTRY_TLS, no downgrade to http', async () => {
    const c = client({});
    try {
      const err = (await c.listTags(parseReference(`${host}/app`)).catch((e: unknown) => e)) as RegistryError;
      expect(err.code).toBe('REGISTRY_TLS');
      expect(err.message).toMatch(new RegExp(`^list tags of ${host}/app: TLS connection to ${host} failed`));
    } finally {
      await c.close();
    }
  });

  test.each([
    ['caFiles', () => ({ caFiles: [join(dir, 'ca.pem')] })],
    ['insecureRegistries', () => ({ insecureRegistries: [host] })],
  ])('trusted via %s', async (_name, opts) => {
    const c = client(opts());
    try {
      expect(await c.listTags(parseReference(`${host}/app`))).toEqual(['secure']);
    } finally {
      await c.close();
    }
  });

  test('a client key that cannot be used: REGISTRY_TLS naming the host, not an unreachable registry', async () => {
    const certsDir = join(dir, 'certs-broken');
    await mkdir(join(certsDir, host), { recursive: true });
    await writeFile(join(certsDir, host, 'client.cert'), 'not a certificate');
    await writeFile(join(certsDir, host, 'client.key'), 'not a key');
    const c = client({ certsDirs: [certsDir], caFiles: [join(dir, 'ca.pem')] });
    try {
      const err = (await c.listTags(parseReference(`${host}/app`)).catch((e: unknown) => e)) as RegistryError;
      expect(err.code).toBe('REGISTRY_TLS');
      expect(err.message).toContain(`TLS material for ${host} cannot be used`);
      expect(err.hint).toMatch(/certs\.d/);
    } finally {
      await c.close();
    }
  });

  test('trusted via certs.d/<host:port>/ca.crt', async () => {
    const certsDir = join(dir, 'certs-client');
    await mkdir(join(certsDir, host), { recursive: true });
    await writeFile(join(certsDir, host, 'ca.crt'), pem.certPem);
    const c = client({ certsDirs: [certsDir] });
    try {
      expect(await c.listTags(parseReference(`${host}/app`))).toEqual(['secure']);
    } finally {
      await c.close();
    }
  });
});

describe('a loopback registry over plain HTTP', () => {
  let server: Server;
  let plainHost: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/v2/') res.end('{}');
      else if (req.url === '/v2/app/tags/list') res.end(JSON.stringify({ name: 'app', tags: ['plain'] }));
      else res.writeHead(404).end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    plainHost = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('speaksTls tells a TLS server from a plain one and from a closed port', async () => {
    expect(await speaksTls(host, 10_000)).toBe(true);
    expect(await speaksTls(plainHost, 10_000)).toBe(false);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    expect(await speaksTls(`127.0.0.1:${port}`, 10_000)).toBe(false);
  });

  test('speaksTls: a server that wants a client certificate speaks TLS; [::1]; an abort', async () => {
    // TLS 1.2: the server's refusal (an alert) comes during the handshake, before it ends.
    const strict = createTlsServer({ cert: pem.certPem, key: pem.keyPem, requestCert: true, rejectUnauthorized: true, maxVersion: 'TLSv1.2' }, (socket) => socket.end());
    strict.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => strict.listen(0, '127.0.0.1', resolve));
    const v6 = createServer((_req, res) => res.end('{}'));
    await new Promise<void>((resolve) => v6.listen(0, '::1', resolve));
    try {
      expect(await speaksTls(`127.0.0.1:${(strict.address() as AddressInfo).port}`, 10_000)).toBe(true);
      expect(await speaksTls(`[::1]:${(v6.address() as AddressInfo).port}`, 10_000)).toBe(false);
      const controller = new AbortController();
      const asked = speaksTls(plainHost, 10_000, controller.signal);
      controller.abort(new Error('stopped'));
      await expect(asked).rejects.toThrow('stopped');
      await expect(speaksTls('not a host:1', 10_000)).rejects.toThrow();
    } finally {
      await new Promise<void>((resolve) => strict.close(() => resolve()));
      await new Promise<void>((resolve) => v6.close(() => resolve()));
    }
  });

  test('a loopback registry that wants a client certificate is not pinged over http instead', async () => {
    let plainRequests = 0;
    const strict = createTlsServer({ cert: pem.certPem, key: pem.keyPem, requestCert: true, rejectUnauthorized: true, maxVersion: 'TLSv1.2' }, (socket) => socket.end());
    strict.on('tlsClientError', () => undefined);
    // A plain request on the same port would be counted here (the first bytes of "GET ").
    strict.on('connection', (socket: import('node:net').Socket) => socket.once('data', (d: Buffer) => void (d.toString('latin1').startsWith('GET') && plainRequests++)));
    await new Promise<void>((resolve) => strict.listen(0, '127.0.0.1', resolve));
    const strictHost = `127.0.0.1:${(strict.address() as AddressInfo).port}`;
    const c = new RegistryClient({ keychain: staticKeychain({}), certsDirs: [], caFiles: [join(dir, 'ca.pem')], systemCaBundles: [], retry: { maxAttempts: 1, baseDelayMs: 1 } });
    try {
      const err = (await c.listTags(parseReference(`${strictHost}/app`)).catch((e: unknown) => e)) as RegistryError;
      expect(err.code).toBe('REGISTRY_TLS');
      expect(plainRequests).toBe(0);
    } finally {
      await c.close();
      await new Promise<void>((resolve) => strict.close(() => resolve()));
    }
  });

  test('is reached over http without reading any TLS material for it', async () => {
    // A client key that cannot be used fails any TLS agent made for this host (see above): none is made.
    const certsDir = join(dir, 'certs-plain');
    await mkdir(join(certsDir, plainHost), { recursive: true });
    await writeFile(join(certsDir, plainHost, 'client.cert'), 'not a certificate');
    await writeFile(join(certsDir, plainHost, 'client.key'), 'not a key');
    const c = new RegistryClient({ keychain: staticKeychain({}), certsDirs: [certsDir], systemCaBundles: [], retry: { maxAttempts: 2, baseDelayMs: 1 } });
    try {
      expect(await c.listTags(parseReference(`${plainHost}/app`))).toEqual(['plain']);
    } finally {
      await c.close();
    }
  });
});
