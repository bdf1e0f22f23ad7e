/**
 * HTTP_PROXY / HTTPS_PROXY / NO_PROXY, through a real proxy (test/helpers/http-proxy.ts)
 * in front of the real registry. The registry is named `registry.hoist-proxy.test:PORT`,
 * a name only the proxy can reach: a request that succeeds went through it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createHttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RegistryClient } from '../../../registry/client.js';
import { RegistryError } from '../../../registry/errors.js';
import { anonymousKeychain } from '../../../registry/keychain/index.js';
import { ProxyResolver } from '../../../registry/proxy.js';
import { urlDispatcher } from '../../../registry/url-dispatcher.js';
import { parseReference } from '../../../src/oci/index.js';
import { buildCli } from '../../helpers/cli.js';
import { PROXY_ONLY_DOMAIN, startHttpProxy, type TestHttpProxy } from '../../helpers/http-proxy.js';
import { listenOnLoopback } from '../../helpers/net.js';
import { makeTestCa, pushTestImage, startRegistry, type PushedTestImage, type RunningRegistry } from '../../helpers/registry/index.js';

const CLI = fileURLToPath(new URL('../../../dist/bin/hoist.cjs', import.meta.url));

let registry: RunningRegistry;
let proxy: TestHttpProxy;
let pushed: PushedTestImage;
let port: string;
let name: string;

beforeAll(async () => {
  registry = await startRegistry();
  proxy = await startHttpProxy();
  pushed = await pushTestImage(registry, 'proxied/app', '1');
  port = registry.host.split(':')[1] as string;
  name = `registry.${PROXY_ONLY_DOMAIN}:${port}`;
}, 120_000);

afterAll(async () => {
  await proxy?.close();
  await registry?.stop();
});

function client(proxySettings: ConstructorParameters<typeof ProxyResolver>[0], opts: { caFiles?: string[]; insecure?: string[] } = {}): RegistryClient {
  return new RegistryClient({
    keychain: anonymousKeychain(),
    insecureRegistries: opts.insecure ?? [name],
    caFiles: opts.caFiles ?? [],
    certsDirs: [],
    proxy: proxySettings,
    retry: { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 20 },
  });
}

describe('registry requests through a proxy', () => {
  test('plain http registries are reached by forwarding through HTTP_PROXY', async () => {
    proxy.calls.length = 0;
    const c = client({ httpProxy: proxy.url, httpsProxy: proxy.url });
    try {
      const m = await c.getManifest(parseReference(`${name}/proxied/app:1`));
      expect(m.digest).toBe(pushed.manifestDigest);
    } finally {
      await c.close();
    }
    const forwarded = proxy.calls.filter((x) => x.kind === 'forward').map((x) => x.target);
    expect(forwarded).toContain(`http://${name}/v2/proxied/app/manifests/1`);
  });

  test('NO_PROXY sends the registry around the proxy', async () => {
    for (const noProxy of [PROXY_ONLY_DOMAIN, `.${PROXY_ONLY_DOMAIN}`, `registry.${PROXY_ONLY_DOMAIN}:${port}`, '*']) {
      proxy.calls.length = 0;
      const c = client({ httpProxy: proxy.url, httpsProxy: proxy.url, noProxy });
      try {
        // Directly, the proxy-only name does not resolve: the error shows the proxy was bypassed.
        const err = await c.getManifest(parseReference(`${name}/proxied/app:1`)).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(RegistryError);
        expect((err as RegistryError).code).toBe('REGISTRY_UNREACHABLE');
      } finally {
        await c.close();
      }
      expect(proxy.calls).toEqual([]);
    }
  });

  test('loopback registries are never proxied (as Go does)', async () => {
    proxy.calls.length = 0;
    const c = client({ httpProxy: proxy.url, httpsProxy: proxy.url }, { insecure: [] });
    try {
      expect((await c.getManifest(parseReference(`${registry.host}/proxied/app:1`))).digest).toBe(pushed.manifestDigest);
    } finally {
      await c.close();
    }
    expect(proxy.calls).toEqual([]);
  });

  test('https through a CONNECT tunnel keeps the per-registry CA', async () => {
    const ca = await makeTestCa();
    const secureName = `secure.${PROXY_ONLY_DOMAIN}`;
    const cert = await ca.issueServerCert({ dnsNames: [secureName], ips: [] });
    const server = createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
      if (req.url === '/v2/') return void res.writeHead(200).end('{}');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name: 'app', tags: ['via-tunnel'] }));
    });
    const host = `${secureName}:${(await listenOnLoopback(server)).split(':')[1]}`;
    const dir = mkdtempSync(path.join(tmpdir(), 'hoist-proxy-ca-'));
    writeFileSync(path.join(dir, 'ca.crt'), ca.certPem);
    proxy.calls.length = 0;
    const trusted = client({ httpsProxy: proxy.url }, { caFiles: [path.join(dir, 'ca.crt')], insecure: [] });
    const untrusted = client({ httpsProxy: proxy.url }, { insecure: [] });
    try {
      expect(await trusted.listTags(parseReference(`${host}/app`))).toEqual(['via-tunnel']);
      expect(proxy.calls.some((x) => x.kind === 'connect' && x.target === host)).toBe(true);
      // Without the CA the tunnel still works but the certificate is refused: verification is end to end.
      const err = await untrusted.listTags(parseReference(`${host}/app`)).catch((e: unknown) => e);
      expect((err as RegistryError).code).toBe('REGISTRY_TLS');
    } finally {
      await trusted.close();
      await untrusted.close();
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    }
  });
});

describe('ADD URL downloads through a proxy', () => {
  test('the URL dispatcher forwards through HTTP_PROXY and honours NO_PROXY', async () => {
    const files = createHttpServer((_req, res) => res.writeHead(200, { 'content-length': '5' }).end('hello'));
    const filesPort = (await listenOnLoopback(files)).split(':')[1];
    const url = `http://files.${PROXY_ONLY_DOMAIN}:${filesPort}/f`;
    const { fetch } = await import('undici');
    const via = urlDispatcher({ proxy: { httpProxy: proxy.url } });
    const around = urlDispatcher({ proxy: { httpProxy: proxy.url, noProxy: `files.${PROXY_ONLY_DOMAIN}` } });
    try {
      proxy.calls.length = 0;
      expect(await (await fetch(url, { dispatcher: via })).text()).toBe('hello');
      expect(proxy.calls.map((x) => x.target)).toEqual([url]);
      proxy.calls.length = 0;
      await expect(fetch(url, { dispatcher: around })).rejects.toThrow();
      expect(proxy.calls).toEqual([]);
    } finally {
      await via.close();
      await around.close();
      files.closeAllConnections();
      files.close();
    }
  });
});

/** The built CLI, run asynchronously (the proxy lives in this process). */
function runCli(args: string[], env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('hoist reads the proxy from the environment', () => {
  beforeAll(() => buildCli(), 300_000);
  const cache = mkdtempSync(path.join(tmpdir(), 'hoist-proxy-cli-'));
  const clean = { HTTP_PROXY: '', HTTPS_PROXY: '', NO_PROXY: '', http_proxy: '', https_proxy: '', no_proxy: '' };

  test('hoist digest goes through HTTPS_PROXY/HTTP_PROXY (lower-case names too)', async () => {
    for (const env of [
      { ...clean, HTTP_PROXY: proxy.url, HTTPS_PROXY: proxy.url },
      { ...clean, http_proxy: proxy.url, https_proxy: proxy.url },
    ]) {
      proxy.calls.length = 0;
      const r = await runCli(['digest', `${name}/proxied/app:1`, '--insecure-registry', name, '--cache-dir', cache], env);
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toBe(pushed.manifestDigest);
      expect(proxy.calls.some((x) => x.target === `http://${name}/v2/proxied/app/manifests/1`)).toBe(true);
    }
  });

  test('with NO_PROXY the proxy is not used', async () => {
    proxy.calls.length = 0;
    const r = await runCli(['digest', `${name}/proxied/app:1`, '--insecure-registry', name, '--cache-dir', cache], {
      ...clean,
      HTTP_PROXY: proxy.url,
      HTTPS_PROXY: proxy.url,
      NO_PROXY: `example.com,${PROXY_ONLY_DOMAIN}`,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('cannot reach');
    expect(proxy.calls).toEqual([]);
  });

  test('hoist build: ADD <url> goes through HTTP_PROXY', async () => {
    const files = createHttpServer((_req, res) => res.writeHead(200, { 'content-length': '3' }).end('abc'));
    const filesPort = (await listenOnLoopback(files)).split(':')[1];
    const url = `http://files.${PROXY_ONLY_DOMAIN}:${filesPort}/data.txt`;
    const ctx = mkdtempSync(path.join(tmpdir(), 'hoist-proxy-ctx-'));
    writeFileSync(path.join(ctx, 'Dockerfile'), `FROM scratch\nADD ${url} /data.txt\n`);
    proxy.calls.length = 0;
    try {
      const r = await runCli(['build', ctx, '-o', `type=oci,dest=${path.join(ctx, 'out.tar')}`, '--cache-dir', cache], { ...clean, HTTP_PROXY: proxy.url });
      expect(r.stderr).not.toContain('error');
      expect(r.status).toBe(0);
      expect(proxy.calls.map((x) => x.target)).toEqual([url]);
    } finally {
      files.closeAllConnections();
      files.close();
    }
  });

  test('a bad proxy value is a user error', async () => {
    const r = await runCli(['digest', `${name}/proxied/app:1`, '--cache-dir', cache], { ...clean, HTTPS_PROXY: 'ftp://proxy.example:21' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('HTTPS_PROXY');
  });
});

describe('ProxyResolver (Go httpproxy rules)', () => {
  const r = new ProxyResolver({ httpProxy: 'proxy:3128', httpsProxy: 'http://sproxy:3129', noProxy: 'skip.example, .sub.example, 10.0.0.0/8, 192.168.1.5, only.example:8443' });
  test.each([
    ['http://reg.example/v2/', 'http://proxy:3128/'],
    ['https://reg.example/v2/', 'http://sproxy:3129/'],
    ['https://skip.example/', undefined],
    ['https://a.skip.example/', undefined],
    ['https://sub.example/', 'http://sproxy:3129/'],
    ['https://x.sub.example/', undefined],
    ['https://10.1.2.3/', undefined],
    ['https://192.168.1.5:5000/', undefined],
    ['https://192.168.1.6/', 'http://sproxy:3129/'],
    ['https://only.example:8443/', undefined],
    ['https://only.example/', 'http://sproxy:3129/'],
    ['http://localhost:5000/', undefined],
    ['http://127.0.0.1:5000/', undefined],
    ['http://[::1]:5000/', undefined],
  ])('%s -> %s', (url, want) => {
    expect(r.proxyFor(new URL(url))?.href).toBe(want);
  });
});
