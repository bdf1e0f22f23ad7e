/**
 * One HTTP exchange with retries. Retried: 408, 429 (honouring Retry-After),
 * 5xx other than 501/505, and connection failures (reset, refused, socket
 * closed, timeouts), with exponential backoff and full jitter, at most
 * `maxAttempts` tries. Never retried: TLS failures, aborts, and requests
 * whose body cannot be sent again. A body is re-sendable when it is bytes or
 * a function that reopens the stream; a request that must not be repeated
 * even then (an upload whose session a partial attempt may have spoiled)
 * passes `retry: false` and its caller restarts at a safe point.
 *
 * No redirects are followed here and no credentials are added: the client
 * decides both (see registry-http.ts).
 */
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import { request } from './http-client.js';
import { readBounded } from '../src/oci/read-bounded.js';
import { HoistError } from '../src/errors.js';
import { DEFAULT_LIMITS, withDeadline, type TransferLimits } from './deadline.js';
import {
  connectionFailure,
  isConnectionError,
  isTimeoutError,
  isTlsProtocolError,
  isTlsVerificationError,
  slowTransfer,
  timeoutFailure,
} from './errors.js';

export interface RetryPolicy {
  /** Total tries, including the first. Default 5. */
  maxAttempts: number;
  /** Backoff before retry n (1-based) is random in [0, min(maxDelayMs, baseDelayMs * 2^(n-1))]. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After longer than this is not waited for; the response is returned as is. */
  maxRetryAfterMs: number;
  /** Tries that may time out (no connection or no answer in time) before giving up. Default 2. */
  maxTimeoutAttempts: number;
}

export const DEFAULT_RETRY: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 5,
  baseDelayMs: 250,
  maxDelayMs: 10_000,
  maxRetryAfterMs: 60_000,
  maxTimeoutAttempts: 2,
});

export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Bytes, or a function that opens the body stream afresh for each attempt. */
export type RequestBody = Buffer | string | (() => Promise<Readable>);

export interface HttpRequest {
  method: HttpMethod;
  url: URL;
  headers?: Record<string, string>;
  body?: RequestBody;
  signal?: AbortSignal;
  /** Default true. */
  retry?: boolean;
}

export type ResponseHeaders = Record<string, string | string[] | undefined>;

export interface HttpResponse {
  status: number;
  headers: ResponseHeaders;
  body: Dispatcher.ResponseData['body'];
  url: URL;
}

/** Names what a request is for in errors: `GET manifest 127.0.0.1:5000/app:1`, and the registry for hints. */
export interface RequestContext {
  what: string;
  registry: string;
}

export function header(headers: ResponseHeaders, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** Read and drop a response body we do not need, so its connection can be reused. */
export async function discardBody(res: HttpResponse): Promise<void> {
  await res.body.dump().catch(() => undefined);
}

export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status !== 501 && status !== 505);
}

/** Retry-After as milliseconds (delta-seconds or HTTP-date); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - now) : undefined;
}

export function backoffDelay(policy: RetryPolicy, retry: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1));
  return Math.floor(random() * ceiling);
}

/** Wait `ms`; an abort rejects with the signal's reason (not a generic AbortError). */
export async function pause(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await sleep(ms, undefined, signal === undefined ? undefined : { signal });
  } catch (err) {
    throw signal?.aborted === true ? (signal.reason ?? err) : err;
  }
}

/** JavaScript's own error classes: a fault in the code, never the network's. */
function isProgrammingError(err: unknown): boolean {
  return err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError || err instanceof SyntaxError;
}

export type DispatcherFor = (url: URL) => Promise<Dispatcher>;

/**
 * A small document's body (manifest, token answer, tag page) read whole, at
 * most `maxBytes`: a broken, stalled or too slow body is a RegistryError, not
 * a library's error.
 */
export async function readDocument(res: HttpResponse, ctx: RequestContext, maxBytes: number, tooLarge: () => Error): Promise<Buffer> {
  try {
    return await readBounded(res.body, ctx.what, maxBytes, tooLarge);
  } catch (err) {
    if (err instanceof HoistError || isProgrammingError(err)) throw err;
    if ((err as { code?: unknown }).code === 'UND_ERR_BODY_TIMEOUT') throw slowTransfer(ctx.what, ctx.registry, 'stopped sending the answer');
    throw connectionFailure(ctx.what, ctx.registry, err);
  }
}

export interface TransportOptions {
  userAgent?: string;
  /** Timeouts and the minimum transfer rate (deadline.ts); the Agents get the same timeout. */
  limits?: Partial<TransferLimits>;
  random?: () => number;
}

export class Transport {
  readonly policy: RetryPolicy;
  readonly limits: TransferLimits;
  private readonly userAgent: string;
  private readonly random: () => number;

  constructor(
    private readonly dispatcherFor: DispatcherFor,
    policy: Partial<RetryPolicy> = {},
    options: TransportOptions = {},
  ) {
    this.policy = { ...DEFAULT_RETRY, ...policy };
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.userAgent = options.userAgent ?? 'hoist';
    this.random = options.random ?? Math.random;
  }

  /** Send `req`; resolves with any HTTP response (the caller judges the status), throws RegistryError when none came. */
  async send(req: HttpRequest, ctx: RequestContext): Promise<HttpResponse> {
    const canRetry = req.retry !== false;
    let timeouts = 0;
    for (let attempt = 1; ; attempt++) {
      const last = !canRetry || attempt >= this.policy.maxAttempts;
      let res: HttpResponse;
      try {
        res = await this.once(req, ctx);
      } catch (err) {
        if (req.signal?.aborted === true) throw req.signal.reason ?? err;
        // A failure of the body we were sending (e.g. its digest check) is not the network's,
        // and a bug in hoist is reported as one, not as an unreachable registry.
        if (err instanceof HoistError || isProgrammingError(err)) throw err;
        if (isTimeoutError(err)) {
          // A registry that does not answer in time is given one more chance, not five.
          timeouts++;
          if (last || timeouts >= this.policy.maxTimeoutAttempts) throw timeoutFailure(ctx.what, ctx.registry, err, this.limits.timeoutMs, attempt);
          continue;
        }
        const retryable = isConnectionError(err) && !isTlsVerificationError(err) && !isTlsProtocolError(err);
        if (last || !retryable) throw connectionFailure(ctx.what, ctx.registry, err);
        await pause(backoffDelay(this.policy, attempt, this.random), req.signal);
        continue;
      }
      if (last || !isRetryableStatus(res.status)) return res;
      let delay = backoffDelay(this.policy, attempt, this.random);
      const after = parseRetryAfter(header(res.headers, 'retry-after'));
      if (after !== undefined) {
        if (after > this.policy.maxRetryAfterMs) return res;
        delay = Math.max(delay, after);
      }
      await discardBody(res);
      await pause(delay, req.signal);
    }
  }

  private async once(req: HttpRequest, ctx: RequestContext): Promise<HttpResponse> {
    const dispatcher = withDeadline(await this.dispatcherFor(req.url), this.limits, ({ elapsedMs, received, length }) =>
      slowTransfer(
        ctx.what,
        ctx.registry,
        `sent ${received}${length === undefined ? '' : ` of ${length}`} bytes in ${(elapsedMs / 1000).toFixed(1)} s, slower than ${Math.round(this.limits.minBytesPerSecond / 1024)} KiB/s`,
      ),
    );
    const body = typeof req.body === 'function' ? await req.body() : req.body;
    try {
      const res = await request(req.url, {
        method: req.method,
        headers: { 'user-agent': this.userAgent, ...req.headers },
        body: body ?? null,
        signal: req.signal ?? null,
        dispatcher,
      });
      return { status: res.statusCode, headers: res.headers, body: res.body, url: req.url };
    } catch (err) {
      if (body !== undefined && typeof body !== 'string' && !Buffer.isBuffer(body)) body.destroy();
      throw err;
    }
  }
}
