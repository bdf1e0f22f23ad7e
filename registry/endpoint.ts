/**
 * Which URL a registry name is reached at. Pure: no I/O here; the client
 * tries the candidates in order (see RegistryClient's ping).
 *
 * The behaviour, chosen to match Docker where it matters:
 * - `docker.io` is served by `registry-1.docker.io`.
 * - A registry is reached over verified HTTPS, and nothing else, unless...
 * - ...it is named in `insecureRegistries` (exact `host[:port]`, a bare host
 *   matching every port, or an IPv4 CIDR): then HTTPS without certificate
 *   verification is tried first, and plain HTTP if that connection fails,
 *   like Docker's `--insecure-registry`.
 * - ...it is a loopback host (`localhost`, 127.0.0.0/8, `::1`), which Docker
 *   treats as insecure by default: HTTPS *with* verification is tried first,
 *   and plain HTTP only when the server does not speak TLS at all. A loopback
 *   registry that serves a certificate we do not trust is an error (with a
 *   hint), never a silent downgrade, because the server evidently wants TLS.
 */
import { isIP } from 'node:net';
import { DEFAULT_DOMAIN } from '../src/oci/index.js';

export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

export type Scheme = 'https' | 'http';

/** One way to reach a registry. */
export interface EndpointCandidate {
  scheme: Scheme;
  /** Verify the server certificate (https only). */
  verifyTls: boolean;
  /** Try the next candidate when this one cannot connect; `'any'` also on TLS verification errors. */
  fallback: 'none' | 'not-tls' | 'any';
}

/** A registry endpoint the client settled on. */
export interface Endpoint {
  /** The registry as references name it (`docker.io`, `127.0.0.1:5000`): what the keychain is asked about. */
  registry: string;
  /** The host[:port] connected to (`registry-1.docker.io`). */
  host: string;
  scheme: Scheme;
  verifyTls: boolean;
  /** `https://registry-1.docker.io` */
  baseUrl: string;
}

/** The host[:port] serving the API for a reference domain. */
export function apiHost(domain: string): string {
  return domain === DEFAULT_DOMAIN || domain === 'index.docker.io' ? DOCKER_HUB_API_HOST : domain;
}

/** Split `host[:port]` (IPv6 in brackets) into its parts. */
export function splitHostPort(hostPort: string): { host: string; port: string | undefined } {
  if (hostPort.startsWith('[')) {
    const end = hostPort.indexOf(']');
    const host = hostPort.slice(1, end === -1 ? undefined : end);
    const rest = end === -1 ? '' : hostPort.slice(end + 1);
    return { host, port: rest.startsWith(':') ? rest.slice(1) : undefined };
  }
  const colon = hostPort.lastIndexOf(':');
  if (colon === -1 || hostPort.indexOf(':') !== colon) return { host: hostPort, port: undefined };
  return { host: hostPort.slice(0, colon), port: hostPort.slice(colon + 1) };
}

export function isLoopbackHost(hostPort: string): boolean {
  const { host } = splitHostPort(hostPort.toLowerCase());
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

function ipv4ToInt(ip: string): number | undefined {
  if (isIP(ip) !== 4) return undefined;
  return ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

function inCidr(host: string, cidr: string): boolean {
  const [net, bitsText] = cidr.split('/');
  const bits = Number(bitsText);
  const a = ipv4ToInt(host);
  const b = net === undefined ? undefined : ipv4ToInt(net);
  if (a === undefined || b === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) return false;
  if (bits === 0) return true;
  const shift = 32 - bits;
  return Math.floor(a / 2 ** shift) === Math.floor(b / 2 ** shift);
}

/** Is `domain` (host[:port]) named in the insecure list? */
export function isInsecureRegistry(domain: string, insecureRegistries: readonly string[]): boolean {
  const want = domain.toLowerCase();
  const { host } = splitHostPort(want);
  return insecureRegistries.some((raw) => {
    const entry = raw.trim().toLowerCase().replace(/^[a-z]+:\/\//, '').replace(/\/+$/, '');
    if (entry === '') return false;
    if (entry.includes('/')) return inCidr(host, entry);
    if (entry === want) return true;
    return splitHostPort(entry).port === undefined && splitHostPort(entry).host === host;
  });
}

/** The ways to try, in order, for a reference domain. */
export function endpointCandidates(domain: string, insecureRegistries: readonly string[] = []): EndpointCandidate[] {
  if (isInsecureRegistry(domain, insecureRegistries)) {
    return [
      { scheme: 'https', verifyTls: false, fallback: 'any' },
      { scheme: 'http', verifyTls: false, fallback: 'none' },
    ];
  }
  if (isLoopbackHost(apiHost(domain))) {
    return [
      { scheme: 'https', verifyTls: true, fallback: 'not-tls' },
      { scheme: 'http', verifyTls: false, fallback: 'none' },
    ];
  }
  return [{ scheme: 'https', verifyTls: true, fallback: 'none' }];
}

export function endpointFor(domain: string, candidate: EndpointCandidate): Endpoint {
  const host = apiHost(domain);
  return {
    registry: domain,
    host,
    scheme: candidate.scheme,
    verifyTls: candidate.scheme === 'https' && candidate.verifyTls,
    baseUrl: `${candidate.scheme}://${host}`,
  };
}

/**
 * Whether layers pushed to `domain` are sent while they are compressed.
 * Not to a loopback registry: its work shares the build's cores, and the
 * push after the build costs CPU there, not waiting. Measured on 2 cores
 * (bench/build-vs-buildah): 3.74 s streamed against 3.55 s after; with a
 * 200 Mbit/s link to the registry, 3.85 and 4.19 s against 4.28 and 4.52 s.
 */
export function streamsLayersTo(domain: string): boolean {
  return !isLoopbackHost(apiHost(domain));
}
