/**
 * Authorized requests to a registry's API: find the endpoint (ping), add the
 * Authorization the registry's challenge calls for, answer one 401 with a
 * fresh challenge, and follow redirects for GET/HEAD.
 *
 * Credentials go only to the registry's own origin: a redirect to another
 * host (blob storage, a CDN with a signed URL) is followed without them, as
 * is an upload Location on another host.
 */
import type { Authenticator } from './auth.js';
import { parseChallenges, preferredChallenge, type Challenge } from './challenge.js';
import { endpointCandidates, endpointFor, type Endpoint } from './endpoint.js';
import { httpUrlOnly, inContext, isConnectionError, isNotTlsError, isTlsProtocolError, isTlsVerificationError, RegistryError } from './errors.js';
import { header, type HttpMethod, type HttpResponse, type RequestBody, type Transport, discardBody } from './transport.js';

const MAX_REDIRECTS = 10;
const pingWhat = (registry: string): string => `ping ${registry}`;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export interface RegistryRequest {
  method: HttpMethod;
  /** A path under the endpoint (`/v2/foo/manifests/1`) or an absolute URL (an upload Location). */
  target: string | URL;
  /** Token scopes the request needs, e.g. `repository:foo:pull`. */
  scopes: readonly string[];
  headers?: Record<string, string>;
  body?: RequestBody;
  retry?: boolean;
  signal?: AbortSignal;
}

interface RegistryState {
  endpoint: Endpoint;
  challenge: Challenge | undefined;
}

export class RegistryHttp {
  private readonly states = new Map<string, Promise<RegistryState>>();

  constructor(
    private readonly transport: Transport,
    private readonly auth: Authenticator,
    private readonly insecureRegistries: readonly string[] = [],
    /** Whether host[:port] speaks TLS at all (tls.ts speaksTls): asked before a verified ping that may fall back to http. */
    private readonly speaksTls?: (hostPort: string, signal?: AbortSignal) => Promise<boolean>,
  ) {}

  /** The endpoint of `registry` (a reference domain), found by pinging `/v2/` once per client. */
  async endpoint(registry: string, signal?: AbortSignal): Promise<Endpoint> {
    return (await this.state(registry, signal)).endpoint;
  }

  private state(registry: string, signal?: AbortSignal): Promise<RegistryState> {
    let s = this.states.get(registry);
    if (s === undefined) {
      s = this.ping(registry, signal);
      this.states.set(registry, s);
      s.catch(() => this.states.delete(registry));
    }
    return s;
  }

  private async ping(registry: string, signal?: AbortSignal): Promise<RegistryState> {
    const candidates = endpointCandidates(registry, this.insecureRegistries);
    let lastError: unknown;
    for (const candidate of candidates) {
      const endpoint = endpointFor(registry, candidate);
      // A server that does not speak TLS gets the plain-HTTP ping at once, without building a verified TLS context.
      if (candidate.fallback === 'not-tls' && endpoint.scheme === 'https' && this.speaksTls !== undefined && !(await this.speaksTls(endpoint.host, signal))) continue;
      try {
        const res = await this.transport.send(
          {
            method: 'GET',
            url: new URL('/v2/', endpoint.baseUrl),
            // A probe with somewhere to fall back to is not worth retrying.
            retry: candidate.fallback === 'none',
            ...(signal === undefined ? {} : { signal }),
          },
          { what: pingWhat(registry), registry },
        );
        const challenge = res.status === 401 ? preferredChallenge(parseChallenges(res.headers['www-authenticate'])) : undefined;
        await discardBody(res);
        return { endpoint, challenge };
      } catch (err) {
        lastError = err;
        const cause = err instanceof RegistryError ? err.cause : err;
        const next =
          candidate.fallback === 'any'
            ? isConnectionError(cause) || isTlsVerificationError(cause) || isTlsProtocolError(cause)
            : candidate.fallback === 'not-tls' && !isTlsVerificationError(cause) && (isConnectionError(cause) || isNotTlsError(cause));
        if (!next) throw err;
      }
    }
    throw lastError;
  }

  /** Send an authorized request; resolves with whatever the registry finally answered. */
  async request(registry: string, req: RegistryRequest, what: string): Promise<HttpResponse> {
    const state = await this.state(registry, req.signal).catch((err: unknown) => {
      // Name the operation the user asked for, not the ping behind it.
      throw err instanceof RegistryError ? inContext(err, pingWhat(registry), what) : err;
    });
    const origin = new URL(state.endpoint.baseUrl).origin;
    // An absolute target is a Location the registry sent (an upload session).
    const url = httpUrlOnly(typeof req.target === 'string' ? new URL(req.target, state.endpoint.baseUrl) : req.target, what, registry, 'a location');
    const ownOrigin = url.origin === origin;
    const signal = req.signal === undefined ? {} : { signal: req.signal };

    let authorization = ownOrigin ? await this.auth.authorization(registry, state.challenge, req.scopes, signal) : undefined;
    let res = await this.send(url, req, authorization, what, registry);
    if (res.status === 401 && ownOrigin) {
      const challenge = preferredChallenge(parseChallenges(res.headers['www-authenticate']));
      await discardBody(res);
      if (challenge !== undefined) state.challenge = challenge;
      this.auth.reject(registry, authorization);
      authorization = await this.auth.authorization(registry, state.challenge, req.scopes, { fresh: true, ...signal });
      res = await this.send(url, req, authorization, what, registry);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return res;

    for (let hops = 0; REDIRECT_STATUSES.has(res.status); hops++) {
      const location = header(res.headers, 'location');
      if (location === undefined) return res;
      if (hops >= MAX_REDIRECTS) {
        await discardBody(res);
        throw new RegistryError('REGISTRY_PROTOCOL', `${what}: more than ${MAX_REDIRECTS} redirects`);
      }
      await discardBody(res);
      let next: URL;
      try {
        next = httpUrlOnly(new URL(location, res.url), what, registry, 'a redirect');
      } catch (err) {
        if (err instanceof RegistryError) throw err;
        throw new RegistryError('REGISTRY_PROTOCOL', `${what}: ${registry} sent a redirect to an invalid URL`);
      }
      res = await this.send(next, req, next.origin === origin ? authorization : undefined, what, registry);
    }
    return res;
  }

  private send(url: URL, req: RegistryRequest, authorization: string | undefined, what: string, registry: string): Promise<HttpResponse> {
    const headers: Record<string, string> = { ...req.headers };
    if (authorization !== undefined) headers.authorization = authorization;
    return this.transport.send(
      {
        method: req.method,
        url,
        headers,
        ...(req.body === undefined ? {} : { body: req.body }),
        ...(req.retry === undefined ? {} : { retry: req.retry }),
        ...(req.signal === undefined ? {} : { signal: req.signal }),
      },
      { what, registry },
    );
  }
}
