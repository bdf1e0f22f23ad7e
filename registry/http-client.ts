/**
 * The two parts of undici hoist's registry transport uses: the keep-alive
 * connection pool (Agent) and the request API.
 *
 * They are loaded from undici's own files rather than from `undici`, whose
 * entry point also loads fetch, WebSocket, EventSource, mocks, caches and
 * interceptors: ~110 ms at the start of every registry command, against
 * ~30 ms for these two. Should a later undici move or seal those files, the
 * entry point is used instead (slower to load, same objects).
 * test/unit/registry/http-client.test.ts checks that the fast path is taken
 * with the undici in package-lock.json and that both paths give the objects
 * undici exports.
 */
import { createRequire } from 'node:module';
import type { Agent as UndiciAgent, Dispatcher } from 'undici';

type RequestApi = (this: Dispatcher, opts: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;

interface UndiciParts {
  Agent: typeof UndiciAgent;
  dispatchRequest: RequestApi;
  loadedFrom: 'internal-files' | 'entry-point';
}

/** Exported for the test; `internals` names undici's own files. */
export function loadUndiciParts(internals = { agent: 'undici/lib/dispatcher/agent', request: 'undici/lib/api/api-request' }): UndiciParts {
  const requireHere = createRequire(import.meta.url);
  try {
    const Agent = requireHere(internals.agent) as typeof UndiciAgent;
    const dispatchRequest = requireHere(internals.request) as RequestApi;
    if (typeof Agent === 'function' && typeof dispatchRequest === 'function') return { Agent, dispatchRequest, loadedFrom: 'internal-files' };
  } catch {
    // fall through to the entry point
  }
  const undici = requireHere('undici') as typeof import('undici');
  return { Agent: undici.Agent, dispatchRequest: undici.Dispatcher.prototype.request as RequestApi, loadedFrom: 'entry-point' };
}

/**
 * The parts, loaded by the first connection made, not by every command that
 * could make one (a build FROM scratch makes none). Node's module cache keeps
 * them: a later call only looks them up there.
 */
export function undiciParts(): UndiciParts {
  return loadUndiciParts();
}

export type Agent = UndiciAgent;

export type RequestOptions = Omit<Dispatcher.RequestOptions, 'origin' | 'path'> & { dispatcher: Dispatcher };

/** undici's `request(url, { dispatcher, ... })`, for an absolute URL. */
export function request(url: URL, options: RequestOptions): Promise<Dispatcher.ResponseData> {
  const { dispatcher, ...rest } = options;
  return undiciParts().dispatchRequest.call(dispatcher, { ...rest, origin: url.origin, path: `${url.pathname}${url.search}` });
}

type ProxyAgentClass = typeof import('undici').ProxyAgent;
type PoolClass = typeof import('undici').Pool;

/**
 * undici's ProxyAgent and Pool, loaded only when a proxy is configured, and
 * from the entry point: ProxyAgent opens its tunnels with `Dispatcher#connect`,
 * which only the entry point installs.
 */
export function loadProxyParts(): { ProxyAgent: ProxyAgentClass; Pool: PoolClass } {
  const undici = createRequire(import.meta.url)('undici') as typeof import('undici');
  return { ProxyAgent: undici.ProxyAgent, Pool: undici.Pool };
}
