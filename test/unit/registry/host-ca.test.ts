/**
 * Kaniko's --registry-certificate HOST=PATH (issue 10): a CA trusted for
 * one registry only. The registry it names is reached over verified TLS;
 * any other registry is not made to trust that CA.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RegistryClient } from '../../../registry/client.js';
import { staticKeychain } from '../../../registry/keychain/index.js';
import { loadConnectTls } from '../../../registry/tls.js';
import { parseReference } from '../../../src/oci/index.js';
import { startTlsRegistry, type Pem, type TlsRegistry } from './tls-fixtures.js';

let tlsRegistry: TlsRegistry;
let dir: string;
let pem: Pem;
let host: string;

beforeAll(async () => {
  tlsRegistry = await startTlsRegistry('hoist-host-ca-');
  ({ dir, pem, host } = tlsRegistry);
});
afterAll(() => tlsRegistry.close());

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
