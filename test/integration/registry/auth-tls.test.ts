/**
 * Authentication and TLS against real registries: htpasswd (Basic) behind
 * TLS with a test CA, and the bearer-token flow with our token server.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RegistryClient, RegistrySink, RegistrySource, type RegistryClientOptions, type RegistryError } from '../../../registry/index.js';
import { anonymousKeychain, staticKeychain } from '../../../registry/keychain/index.js';
import { parseReference } from '../../../src/oci/index.js';
import { pushTestImage, startRegistry, type RunningRegistry } from '../../helpers/registry/index.js';
import { makeImage } from './images.js';

const clients: RegistryClient[] = [];
function client(opts: Partial<RegistryClientOptions> = {}): RegistryClient {
  const c = new RegistryClient({ keychain: anonymousKeychain(), retry: { baseDelayMs: 10, maxDelayMs: 50 }, certsDirs: [], ...opts });
  clients.push(c);
  return c;
}
afterAll(async () => {
  for (const c of clients) await c.close();
});

describe('htpasswd + TLS', () => {
  let reg: RunningRegistry;
  let dir: string;
  beforeAll(async () => {
    reg = await startRegistry({ auth: 'htpasswd', tls: true });
    dir = await mkdtemp(join(tmpdir(), 'hoist-tls-'));
  });
  afterAll(async () => {
    await reg?.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const creds = () => staticKeychain({ [reg.host]: { kind: 'basic', username: reg.username!, password: reg.password! } });

  test('with the CA file: push and pull', async () => {
    const { img } = await makeImage('tls');
    const c = client({ keychain: creds(), caFiles: [reg.caCertFile!] });
    const ref = parseReference(`${reg.host}/secure/app:1`);
    expect(await new RegistrySink(c).write(img, [ref])).toBe(await img.digest());
    const pulled = await new RegistrySource(client({ keychain: creds(), caFiles: [reg.caCertFile!] })).image(ref);
    expect(await pulled.digest()).toBe(await img.digest());
  });

  test('with the CA in a certs.d directory', async () => {
    const certsDir = join(dir, 'certs.d');
    await mkdir(join(certsDir, reg.host), { recursive: true });
    await writeFile(join(certsDir, reg.host, 'ca.crt'), reg.caCertPem!);
    const pushed = await pushTestImage(reg, 'secure/certsd', 'v1');
    const got = await client({ keychain: creds(), certsDirs: [join(dir, 'missing'), certsDir] }).getManifest(
      parseReference(`${reg.host}/secure/certsd:v1`),
    );
    expect(got.digest).toBe(pushed.manifestDigest);
  });

  test('without the CA: a clear TLS error, no fallback to plain http', async () => {
    const err = (await client({ keychain: creds() })
      .getManifest(parseReference(`${reg.host}/secure/app:1`))
      .catch((e: unknown) => e)) as RegistryError;
    expect(err.code).toBe('REGISTRY_TLS');
    expect(err.message).toContain(`GET manifest ${reg.host}/secure/app:1: TLS connection to ${reg.host} failed`);
    expect(err.message).toMatch(/certificate|self.signed|verify/i);
    expect(err.hint).toMatch(/--registry-ca/);
    expect(err.hint).toMatch(/--insecure-registry/);
  });

  test('as an insecure registry: TLS without verification works', async () => {
    const pushed = await pushTestImage(reg, 'secure/insecure', 'v1');
    const got = await client({ keychain: creds(), insecureRegistries: [reg.host] }).getManifest(
      parseReference(`${reg.host}/secure/insecure:v1`),
    );
    expect(got.digest).toBe(pushed.manifestDigest);
  });

  test('no credentials: UNAUTHORIZED with a login hint', async () => {
    const err = (await client({ caFiles: [reg.caCertFile!] })
      .getManifest(parseReference(`${reg.host}/secure/app:1`))
      .catch((e: unknown) => e)) as RegistryError;
    expect(err.code).toBe('REGISTRY_UNAUTHORIZED');
    expect(err.status).toBe(401);
    expect(err.ociErrors[0]?.code).toBe('UNAUTHORIZED');
    expect(err.hint).toBe(`run hoist login ${reg.host} or check credentials`);
  });

  test('a wrong password is refused and never shown', async () => {
    const bad = staticKeychain({ [reg.host]: { kind: 'basic', username: reg.username!, password: 'wrong-pw-123456' } });
    const err = (await client({ keychain: bad, caFiles: [reg.caCertFile!] })
      .getManifest(parseReference(`${reg.host}/secure/app:1`))
      .catch((e: unknown) => e)) as RegistryError;
    expect(err.code).toBe('REGISTRY_UNAUTHORIZED');
    const shown = `${err.message}\n${err.hint}\n${err.stack}`;
    expect(shown).not.toContain('wrong-pw-123456');
    expect(shown).not.toContain(Buffer.from(`${reg.username}:wrong-pw-123456`).toString('base64'));
  });
});

describe('token auth', () => {
  describe('anonymous pull allowed', () => {
    let reg: RunningRegistry;
    beforeAll(async () => {
      reg = await startRegistry({ auth: 'token', allowAnonymousPull: true });
    });
    afterAll(async () => reg?.stop());
    const creds = () => staticKeychain({ [reg.host]: { kind: 'basic', username: reg.username!, password: reg.password! } });

    test('push with credentials, pull anonymously; one token request per scope per client', async () => {
      const { img } = await makeImage('token', 50_000);
      const ref = parseReference(`${reg.host}/tok/app:1`);
      reg.resetTokenRequests?.();
      await new RegistrySink(client({ keychain: creds() })).write(img, [ref, ref.withTag('2')]);
      const pushTokens = reg.tokenRequests!();
      expect(pushTokens).toHaveLength(1);
      expect(pushTokens[0]?.scope).toEqual(['repository:tok/app:pull,push']);
      expect(pushTokens[0]?.account).toBe(reg.username);
      expect(pushTokens[0]?.status).toBe(200);

      reg.resetTokenRequests?.();
      const puller = client();
      const source = new RegistrySource(puller);
      const pulled = await source.image(ref);
      for (const l of await pulled.layers()) await (await l.compressed()).resume().toArray();
      await source.image(ref.withTag('2'));
      expect((await puller.listTags(ref)).sort()).toEqual(['1', '2']);
      const pullTokens = reg.tokenRequests!();
      expect(pullTokens).toHaveLength(1);
      expect(pullTokens[0]?.scope).toEqual(['repository:tok/app:pull']);
      expect(pullTokens[0]?.authorization).toBeUndefined();
      expect(await pulled.digest()).toBe(await img.digest());
    });

    test('a push token also serves later pulls by the same client', async () => {
      const { img } = await makeImage('token-reuse');
      const ref = parseReference(`${reg.host}/tok/reuse:1`);
      reg.resetTokenRequests?.();
      const c = client({ keychain: creds() });
      await new RegistrySink(c).write(img, [ref]);
      await new RegistrySource(c).image(ref);
      expect(reg.tokenRequests!()).toHaveLength(1);
    });

    test('anonymous push is refused with a login hint', async () => {
      const { img } = await makeImage('anon-push');
      const err = (await new RegistrySink(client())
        .write(img, [parseReference(`${reg.host}/tok/anon:1`)])
        .catch((e: unknown) => e)) as RegistryError;
      expect(err.code).toBe('REGISTRY_UNAUTHORIZED');
      expect(err.hint).toMatch(/hoist login/);
    });
  });

  describe('anonymous pull denied', () => {
    let reg: RunningRegistry;
    beforeAll(async () => {
      reg = await startRegistry({ auth: 'token', allowAnonymousPull: false });
    });
    afterAll(async () => reg?.stop());

    test('anonymous pull fails; with credentials it works', async () => {
      const pushed = await pushTestImage(reg, 'private/app', 'v1');
      const ref = parseReference(`${reg.host}/private/app:v1`);
      const err = (await client().getManifest(ref).catch((e: unknown) => e)) as RegistryError;
      expect(err.code).toBe('REGISTRY_UNAUTHORIZED');
      expect(err.message).toContain(`${reg.host}/private/app:v1`);
      const c = client({ keychain: staticKeychain({ [reg.host]: { kind: 'basic', username: reg.username!, password: reg.password! } }) });
      expect((await c.getManifest(ref)).digest).toBe(pushed.manifestDigest);
    });
  });
});
