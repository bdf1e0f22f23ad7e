/**
 * Connections: one keep-alive undici Agent per (host, TLS policy), with the
 * CAs and client certificates that host needs.
 *
 * Trusted CAs for a host are Node's bundled roots and the operating
 * system's bundle (the first of `systemCaBundles` that exists, as Go finds
 * it), plus every `caFiles` entry, plus Docker-style certs.d directories:
 * `<dir>/<host[:port]>/*.crt` (including `ca.crt`). A `<name>.cert` with a matching `<name>.key` there
 * is presented as a client certificate, as Docker does. Verification is
 * switched off only for hosts the caller names insecure.
 */
import { readdir, readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type * as Tls from 'node:tls';
import type { SecureContext } from 'node:tls';
import type { Dispatcher } from 'undici';
import { loadProxyParts, undiciParts } from './http-client.js';
import { ProxyResolver } from './proxy.js';
import { isNotTlsError, RegistryError } from './errors.js';
import { DEFAULT_TIMEOUT_MS } from './deadline.js';

/** node:tls on first use: most commands talk to no registry, or to one over plain HTTP, and loading it costs each a few ms. */
function tlsModule(): typeof Tls {
  return createRequire(import.meta.url)('node:tls') as typeof Tls;
}

export const DEFAULT_CERTS_DIRS: readonly string[] = Object.freeze(['/etc/docker/certs.d', '/etc/containers/certs.d']);

/** Where Linux distributions keep the system CA bundle (Go's crypto/x509 list). */
export const DEFAULT_SYSTEM_CA_BUNDLES: readonly string[] = Object.freeze([
  '/etc/ssl/certs/ca-certificates.crt',
  '/etc/pki/tls/certs/ca-bundle.crt',
  '/etc/ssl/ca-bundle.pem',
  '/etc/pki/tls/cacert.pem',
  '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem',
  '/etc/ssl/cert.pem',
]);

export interface TlsOptions {
  /** PEM files with extra CA certificates trusted for every registry. */
  caFiles?: readonly string[];
  /** PEM files with CA certificates trusted for one registry only, by `host[:port]` (Kaniko's `--registry-certificate`). */
  hostCaFiles?: Readonly<Record<string, readonly string[]>>;
  /** certs.d roots; each may hold `<host[:port]>/ca.crt`. Default {@link DEFAULT_CERTS_DIRS}. */
  certsDirs?: readonly string[];
  /** Candidate system CA bundles; the first that exists is trusted. Default {@link DEFAULT_SYSTEM_CA_BUNDLES}. */
  systemCaBundles?: readonly string[];
}

export interface TimeoutOptions {
  /** Time to connect (ms). Default 30 s. */
  connectMs?: number;
  /** Time from request sent to response headers (ms). Default 30 s (then the transport retries once). */
  headersMs?: number;
  /** Longest silence inside a response body (ms). Default 30 s. */
  bodyMs?: number;
}

export interface ConnectTls {
  ca?: string[];
  cert?: string;
  key?: string;
  rejectUnauthorized: boolean;
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES') return [];
    throw err;
  }
}

/** The system CA bundle, or undefined when none of the candidates exists. */
export async function readSystemCaBundle(candidates: readonly string[] = DEFAULT_SYSTEM_CA_BUNDLES): Promise<string | undefined> {
  for (const file of candidates) {
    const pem = await readIfExists(file).catch(() => undefined);
    if (pem !== undefined) return pem;
  }
  return undefined;
}

/**
 * Read the TLS material for `hostPort` (host[:port]). `systemBundle` is the
 * already-read system CA bundle (read once per pool, not per host).
 */
export async function loadConnectTls(
  hostPort: string,
  verify: boolean,
  options: TlsOptions = {},
  systemBundle?: string,
): Promise<ConnectTls> {
  const extra: string[] = systemBundle === undefined ? [] : [systemBundle];
  const forHost = options.hostCaFiles?.[hostPort.toLowerCase()] ?? options.hostCaFiles?.[hostPort.replace(/:443$/, '').toLowerCase()] ?? [];
  for (const file of [...(options.caFiles ?? []), ...forHost]) {
    try {
      extra.push(await readFile(file, 'utf8'));
    } catch (err) {
      throw new RegistryError('REGISTRY_TLS', `cannot read the CA file ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, {
        hint: 'check the path given with --registry-ca (or --registry-certificate)',
        cause: err,
      });
    }
  }
  let cert: string | undefined;
  let key: string | undefined;
  for (const root of options.certsDirs ?? DEFAULT_CERTS_DIRS) {
    const dir = join(root, hostPort);
    for (const entry of await listDir(dir)) {
      if (entry.endsWith('.crt')) {
        const pem = await readIfExists(join(dir, entry));
        if (pem !== undefined) extra.push(pem);
      } else if (entry.endsWith('.cert') && cert === undefined) {
        const k = await readIfExists(join(dir, `${entry.slice(0, -'.cert'.length)}.key`));
        const c = await readIfExists(join(dir, entry));
        if (k !== undefined && c !== undefined) [cert, key] = [c, k];
      }
    }
  }
  const tls: ConnectTls = { rejectUnauthorized: verify };
  // Node replaces its default roots when `ca` is given, so keep them explicitly.
  // Without verification no CA is consulted, and parsing ~300 of them costs ~150 ms.
  if (verify && extra.length > 0) tls.ca = [...tlsModule().rootCertificates, ...extra];
  if (cert !== undefined && key !== undefined) [tls.cert, tls.key] = [cert, key];
  return tls;
}

/**
 * Whether the server at `hostPort` (host[:port], 443 by default) speaks
 * TLS, asked with a handshake that checks no certificate: a loopback
 * registry's ping asks this before the verified HTTPS ping, whose CA
 * context takes ~60 ms of CPU to build, so that a plain-HTTP registry (the
 * usual loopback one) never needs it. Nothing is sent but the ClientHello.
 *
 * The answer is no only when the server shows it does not speak TLS (it
 * answers with something else, or drops the connection: isNotTlsError), or
 * refuses the connection (plain HTTP then fails the same way, with that
 * error). Anything else is yes, and the verified ping decides as before: a
 * TLS alert (a client certificate required), an untrusted certificate (an
 * error, never a downgrade), or silence until `timeoutMs` (which the
 * verified ping then waits out again).
 */
export function speaksTls(hostPort: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason);
      return;
    }
    let url: URL;
    try {
      url = new URL(`https://${hostPort}/`);
    } catch (err) {
      reject(err);
      return;
    }
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const socket = tlsModule().connect({
      host,
      port: url.port === '' ? 443 : Number(url.port),
      rejectUnauthorized: false,
      ...(isIP(host) === 0 ? { servername: host } : {}),
    });
    let settled = false;
    const settle = (answer: boolean | { error: unknown }): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', aborted);
      socket.destroy();
      if (typeof answer === 'boolean') resolve(answer);
      else reject(answer.error);
    };
    const aborted = (): void => settle({ error: signal?.reason });
    const timer = setTimeout(() => settle(true), timeoutMs);
    signal?.addEventListener('abort', aborted, { once: true });
    socket.once('secureConnect', () => settle(true));
    socket.once('error', (err: NodeJS.ErrnoException) => settle(!(isNotTlsError(err) || err.code === 'ECONNREFUSED')));
    // Closed before the handshake ended, without an error: nothing TLS answered.
    socket.once('close', () => settle(false));
  });
}

/** How an agent connects: plain http, or https with or without certificate verification. */
export type ConnectionMode = 'plain' | 'verify' | 'insecure';

/**
 * Connect options with one SecureContext for all of an agent's connections:
 * given `ca`/`cert`/`key` instead, tls.connect parses every certificate
 * again for each new socket (~150 ms of CPU with the system bundle).
 */
export function connectOptions(tls: ConnectTls): { rejectUnauthorized: boolean; secureContext?: SecureContext } {
  if (tls.ca === undefined && tls.cert === undefined) return { rejectUnauthorized: tls.rejectUnauthorized };
  const secureContext = tlsModule().createSecureContext({
    ...(tls.ca === undefined ? {} : { ca: tls.ca }),
    ...(tls.cert === undefined ? {} : { cert: tls.cert, key: tls.key }),
  });
  return { rejectUnauthorized: tls.rejectUnauthorized, secureContext };
}

/** Agents by host and TLS policy, owned by one client and closed with it. */
export class AgentPool {
  private readonly agents = new Map<string, Promise<Dispatcher>>();
  private systemBundle: Promise<string | undefined> | undefined;
  /**
   * Connect options by TLS material: most hosts (a registry, its token realm, its
   * blob CDN) share the same CAs, and each SecureContext costs ~90 ms to build.
   */
  private readonly contexts = new Map<string, ReturnType<typeof connectOptions>>();
  private closed = false;

  constructor(
    private readonly tls: TlsOptions = {},
    private readonly timeouts: TimeoutOptions = {},
    private readonly proxies: ProxyResolver = new ProxyResolver(),
  ) {}

  /**
   * The agent for `hostPort` (host[:port] as in a URL): `plain` for http (no
   * TLS material is read), `verify` or `insecure` for https.
   */
  get(hostPort: string, mode: ConnectionMode): Promise<Dispatcher> {
    if (this.closed) return Promise.reject(new Error('registry client is closed'));
    const key = `${hostPort}|${mode}`;
    let agent = this.agents.get(key);
    if (agent === undefined) {
      agent = this.create(hostPort, mode);
      this.agents.set(key, agent);
      agent.catch(() => this.agents.delete(key));
    }
    return agent;
  }

  private async create(hostPort: string, mode: ConnectionMode): Promise<Dispatcher> {
    let tls = {};
    if (mode !== 'plain') {
      const verify = mode === 'verify';
      const systemBundle = verify ? await (this.systemBundle ??= readSystemCaBundle(this.tls.systemCaBundles)) : undefined;
      const material = await loadConnectTls(hostPort, verify, this.tls, systemBundle);
      const key = [mode, material.cert ?? '', material.key ?? '', ...(material.ca ?? [])].join('\0');
      try {
        const known = this.contexts.get(key);
        if (known !== undefined) tls = known;
        else this.contexts.set(key, (tls = connectOptions(material)));
      } catch (err) {
        throw new RegistryError('REGISTRY_TLS', `TLS material for ${hostPort} cannot be used: ${(err as Error).message}`, {
          hint: `check the CA files (--registry-ca, certs.d/${hostPort}/*.crt) and the client certificate and key (certs.d/${hostPort}/*.cert and *.key)`,
          cause: err,
        });
      }
    }
    const pool = {
      keepAliveTimeout: 30_000,
      connections: 16,
      headersTimeout: this.timeouts.headersMs ?? DEFAULT_TIMEOUT_MS,
      bodyTimeout: this.timeouts.bodyMs ?? DEFAULT_TIMEOUT_MS,
    };
    const connectTimeout = this.timeouts.connectMs ?? DEFAULT_TIMEOUT_MS;
    const proxy = this.proxies.proxyFor(new URL(`${mode === 'plain' ? 'http' : 'https'}://${hostPort}/`));
    if (proxy === undefined) return new (undiciParts().Agent)({ ...pool, connect: { ...tls, timeout: connectTimeout } });
    return proxyAgent(proxy, mode === 'plain', pool, { ...tls, timeout: connectTimeout });
  }

  async close(): Promise<void> {
    this.closed = true;
    const agents = [...this.agents.values()];
    this.agents.clear();
    await Promise.all(agents.map(async (p) => (await p.catch(() => undefined))?.close()));
  }
}

/**
 * A dispatcher that reaches its origins through `proxy`: https origins
 * through a CONNECT tunnel, with the origin's own TLS material (custom CA,
 * client certificate, or no verification for an insecure registry); plain
 * http origins by forwarding (`GET http://host/...`), as Go and curl do,
 * since proxies commonly allow CONNECT only to port 443.
 */
export function proxyAgent(
  proxy: URL,
  plainHttp: boolean,
  pool: { keepAliveTimeout: number; connections: number; headersTimeout: number; bodyTimeout: number },
  requestTls: Record<string, unknown> & { timeout: number },
): Dispatcher {
  const { ProxyAgent, Pool } = loadProxyParts();
  return new ProxyAgent({
    uri: proxy.href,
    proxyTunnel: !plainHttp,
    ...pool,
    requestTls,
    proxyTls: { timeout: requestTls.timeout },
    // The pools ProxyAgent makes (also the one to the proxy when forwarding) keep the same timeouts.
    factory: (origin: string | URL, options: object) => new Pool(origin, { ...pool, ...options }),
  } as ConstructorParameters<typeof ProxyAgent>[0]);
}
