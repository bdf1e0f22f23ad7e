/** A registry may only send hoist to http and https URLs (issue 11: file:// crashed with "Invalid URL"). */
import { afterEach, describe, expect, test } from 'vitest';
import { RegistryClient } from '../../../registry/client.js';
import { RegistryError } from '../../../registry/errors.js';
import { anonymousKeychain, staticKeychain } from '../../../registry/keychain/index.js';
import { parseReference } from '../../../src/oci/index.js';
import { startServer, type Handler } from './local-server.js';

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn();
  cleanup = [];
});

async function clientFor(handler: Handler, withCredentials = false): Promise<{ client: RegistryClient; host: string }> {
  const s = await startServer(handler);
  const keychain = withCredentials ? staticKeychain({ [s.host]: { kind: 'basic', username: 'u', password: 'pw-123456' } }) : anonymousKeychain();
  const client = new RegistryClient({ keychain, retry: { maxAttempts: 1 } });
  cleanup.push(() => s.close(), () => client.close());
  return { client, host: s.host };
}

async function protocolError(p: Promise<unknown>): Promise<RegistryError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RegistryError);
  expect((err as RegistryError).code).toBe('REGISTRY_PROTOCOL');
  return err as RegistryError;
}

describe('only http and https are followed', () => {
  test('a redirect to file:// is a clear registry error', async () => {
    const { client, host } = await clientFor((req, res) => {
      if (req.url === '/v2/') return void res.writeHead(200).end('{}');
      res.writeHead(302, { location: 'file:///etc/passwd' }).end();
    });
    const err = await protocolError(client.getManifest(parseReference(`${host}/app:1`)));
    expect(err.message).toContain('sent a redirect to a file: URL (file:///etc/passwd); only http and https are followed');
  });

  test('a Bearer realm of file:// is a clear registry error', async () => {
    const { client, host } = await clientFor((_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="file:///etc/passwd",service="x"' }).end();
    }, true);
    const err = await protocolError(client.listTags(parseReference(`${host}/app`)));
    expect(err.message).toContain('sent its token realm to a file: URL');
  });

  test('an upload Location of file:// is a clear registry error', async () => {
    const { client, host } = await clientFor((req, res) => {
      if (req.url === '/v2/') return void res.writeHead(200).end('{}');
      if (req.method === 'HEAD') return void res.writeHead(404).end();
      res.writeHead(202, { location: 'file:///tmp/upload' }).end();
    });
    const data = Buffer.from('blob');
    const { createHash } = await import('node:crypto');
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}` as const;
    const { Readable } = await import('node:stream');
    const err = await protocolError(
      client.pushBlob(parseReference(`${host}/app`), { mediaType: 'application/octet-stream', digest, size: data.length }, async () => Readable.from([data])),
    );
    expect(err.message).toContain('a file: URL');
  });
});
