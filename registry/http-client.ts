/**
 * The two parts of undici hoist's registry transport uses: the keep-alive
 * connection pool (Agent) and the request API.
 *
 * They are loaded from undici's own files rather than from `undici`, whose
 * entry point also loads fetch, WebSocket, EventSource, mocks, caches and
 * interceptors: ~110 ms at the start of every registry command, against
 * ~30 ms for these two. test/unit/registry/http-client.test.ts checks that
 * they are the very objects the public entry point exports, so an undici
 * upgrade that moves them fails there, not in a user's pull.
 */
import { createRequire } from 'node:module';
import type { Agent as UndiciAgent, Dispatcher } from 'undici';

const requireUndici = createRequire(import.meta.url);

export const Agent = requireUndici('undici/lib/dispatcher/agent') as typeof UndiciAgent;
export type Agent = UndiciAgent;

type RequestApi = (this: Dispatcher, opts: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;
const dispatchRequest = requireUndici('undici/lib/api/api-request') as RequestApi;

export type RequestOptions = Omit<Dispatcher.RequestOptions, 'origin' | 'path'> & { dispatcher: Dispatcher };

/** undici's `request(url, { dispatcher, ... })`, for an absolute URL. */
export function request(url: URL, options: RequestOptions): Promise<Dispatcher.ResponseData> {
  const { dispatcher, ...rest } = options;
  return dispatchRequest.call(dispatcher, { ...rest, origin: url.origin, path: `${url.pathname}${url.search}` });
}
