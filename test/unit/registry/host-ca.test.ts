/**
 * Kaniko's --registry-certificate HOST=PATH (issue 10): a CA trusted for
 * one registry only. The registry it names is reached over verified TLS;
 * any other registry is not made to trust that CA.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RegistryClient } from '../../../registry/client.js';
import { staticKeychain } from '../../../registry/keychain/index.js';
import { loadConnectTls } from '../../../registry/tls.js';
import { parseReference } from '../../../src/oci/index.js';
import { makeSelfSigned, type Pem } from './tls-fixtures.js';

let dir: string;
let pem: Pem;
let server: ReturnType<typeof createServer>;
let host: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hoist-host-ca-'));
  pem = makeSelfSigned();
  await writeFile(join(dir, 'ca.pem'), pem.certPem);
  server = createServer({ cert: pem.certPem, key: pem.keyPem }, (req, res) => {
    if (req.url === '/v2/') return void res.writeHead(200).end('{}');
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"name":"app","tags":["secure"]}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

describe('a CA for one registry (--registry-certificate)', () => {
  test('is loaded for that host only', async () => {
    const hostCaFiles = { 'reg.example:5000': [join(dir, 'ca.pem')] };
    expect((await loadConnectTls('reg.example:5000', true, { hostCaFiles, certsDirs: [] })).ca).toContain(pem.certPem);
    expect((await loadConnectTls('other.example:5000', true, { hostCaFiles, certsDirs: [] })).ca).toBeUndefined();
  });

  test('lets a client verify that registry, and no other', async () => {
    const client = (hostCaFiles: Record<string, string[]>) =>
      new RegistryClient({ keychain: staticKeychain({}), certsDirs: [], systemCaBundles: [], hostCaFiles, retry: { maxAttempts: 2, baseDelayMs: 1 } });
    const trusted = client({ [host]: [join(dir, 'ca.pem')] });
    try {
      expect(await trusted.listTags(parseReference(`${host}/app`))).toEqual(['secure']);
    } finally {
      await trusted.close();
    }
    const elsewhere = client({ 'reg.example:5000': [join(dir, 'ca.pem')] });
    try {
      await expect(elsewhere.listTags(parseReference(`${host}/app`))).rejects.toMatchObject({ code: 'REGISTRY_TLS' });
    } finally {
      await elsewhere.close();
    }
  });
});
