/**
 * Which proxy a request goes through, the way Go's net/http (and so Docker,
 * crane, skopeo and BuildKit) reads HTTP_PROXY, HTTPS_PROXY and NO_PROXY
 * (golang.org/x/net/http/httpproxy):
 *
 * - https URLs use HTTPS_PROXY, http URLs use HTTP_PROXY; the upper-case name
 *   wins over the lower-case one. A value without a scheme is http://.
 * - localhost and loopback addresses are never proxied.
 * - NO_PROXY is a comma-separated list: `*` (nothing is proxied), a host name
 *   (that name and its subdomains), `.name` or `*.name` (subdomains only), an
 *   IP address, a CIDR range, each optionally with `:port`.
 *
 * Pure: the environment is passed in (only cmd/ reads process.env).
 */
import { BlockList, isIP } from 'node:net';
import { HoistError } from '../src/errors.js';
import { redactUrl } from '../src/redact.js';

export interface ProxySettings {
  httpProxy?: string | undefined;
  httpsProxy?: string | undefined;
  noProxy?: string | undefined;
}

/** The proxy settings in an environment (upper-case names first, as Go). */
export function proxySettingsFromEnv(env: Readonly<Record<string, string | undefined>>): ProxySettings {
  // Go's getEnvAny: the first of the two names that is set and not empty.
  const pick = (upper: string): string | undefined =>
    [env[upper], env[upper.toLowerCase()]].map((v) => v?.trim()).find((v) => v !== undefined && v !== '');
  return { httpProxy: pick('HTTP_PROXY'), httpsProxy: pick('HTTPS_PROXY'), noProxy: pick('NO_PROXY') };
}

/** The proxy URL in a setting; a bare `host:port` is http. */
export function parseProxyUrl(value: string, name: string): URL {
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`);
  } catch {
    throw new HoistError('BAD_PROXY', `${name} ${JSON.stringify(redactUrl(value))} is not a URL`, {
      hint: `set ${name} to http://HOST:PORT (or https://, socks5://)`,
    });
  }
  if (!['http:', 'https:', 'socks5:'].includes(url.protocol)) {
    throw new HoistError('BAD_PROXY', `${name} ${JSON.stringify(redactUrl(url))}: proxies of scheme ${url.protocol.slice(0, -1)} are not supported`, {
      hint: `set ${name} to http://HOST:PORT (or https://, socks5://)`,
    });
  }
  return url;
}

interface NoProxyEntry {
  /** Lower-case host name without a leading dot, or an IP address. */
  host: string;
  subdomainsOnly: boolean;
  port: number | undefined;
  cidr: BlockList | undefined;
}

function parseNoProxy(value: string | undefined): { all: boolean; entries: NoProxyEntry[] } {
  const entries: NoProxyEntry[] = [];
  for (const raw of (value ?? '').split(',')) {
    let entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return { all: true, entries: [] };
    if (entry.includes('/')) {
      const [addr = '', bits = ''] = entry.split('/');
      const family = isIP(addr);
      if (family !== 0 && /^\d+$/.test(bits)) {
        const cidr = new BlockList();
        cidr.addSubnet(addr, Number(bits), family === 6 ? 'ipv6' : 'ipv4');
        entries.push({ host: '', subdomainsOnly: false, port: undefined, cidr });
      }
      continue;
    }
    let port: number | undefined;
    const m = /^(.*?):(\d+)$/.exec(entry);
    if (m !== null && isIP(entry) !== 6) [entry, port] = [m[1] ?? '', Number(m[2])];
    entry = entry.replace(/^\[(.*)\]$/, '$1');
    const subdomainsOnly = entry.startsWith('.') || entry.startsWith('*.');
    entries.push({ host: entry.replace(/^\*?\./, ''), subdomainsOnly, port, cidr: undefined });
  }
  return { all: false, entries };
}

function isLoopback(host: string): boolean {
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

function defaultPort(protocol: string): number {
  return protocol === 'https:' ? 443 : 80;
}

/** Proxy selection for one set of settings. */
export class ProxyResolver {
  private readonly http: URL | undefined;
  private readonly https: URL | undefined;
  private readonly noProxy: ReturnType<typeof parseNoProxy>;

  constructor(settings: ProxySettings = {}) {
    this.http = settings.httpProxy === undefined ? undefined : parseProxyUrl(settings.httpProxy, 'HTTP_PROXY');
    this.https = settings.httpsProxy === undefined ? undefined : parseProxyUrl(settings.httpsProxy, 'HTTPS_PROXY');
    this.noProxy = parseNoProxy(settings.noProxy);
  }

  /** Whether any proxy is configured at all. */
  get enabled(): boolean {
    return this.http !== undefined || this.https !== undefined;
  }

  /** The proxy for a request to `url`, or undefined to connect directly. */
  proxyFor(url: URL): URL | undefined {
    const proxy = url.protocol === 'https:' ? this.https : url.protocol === 'http:' ? this.http : undefined;
    if (proxy === undefined) return undefined;
    const host = url.hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
    if (isLoopback(host) || this.noProxy.all) return undefined;
    const port = url.port === '' ? defaultPort(url.protocol) : Number(url.port);
    const family = isIP(host);
    for (const e of this.noProxy.entries) {
      if (e.cidr !== undefined) {
        if (family !== 0 && e.cidr.check(host, family === 6 ? 'ipv6' : 'ipv4')) return undefined;
        continue;
      }
      if (e.port !== undefined && e.port !== port) continue;
      if (family !== 0 || isIP(e.host) !== 0) {
        if (host === e.host) return undefined;
        continue;
      }
      if ((!e.subdomainsOnly && host === e.host) || host.endsWith(`.${e.host}`)) return undefined;
    }
    return proxy;
  }
}
