/**
 * Bounds on a response, so that a server that accepts a connection and then
 * answers slowly, or not at all, cannot hold hoist for long:
 *
 * - headers: undici's headersTimeout (the Agent's option), then one retry;
 * - idle body: undici's bodyTimeout;
 * - total: from the response's headers, the body must be done within
 *   `timeoutMs + size / minBytesPerSecond`, where size is Content-Length or,
 *   when the server sent none, the bytes received so far (a drip or an
 *   endless body slower than the minimum rate ends; a fast body of unknown
 *   size is not cut short).
 *
 * `TransferDeadline` is the clock; `withDeadline` applies it to one request
 * sent through an undici dispatcher by wrapping the request's handler.
 */
import type { Dispatcher } from 'undici';

/** One timeout for connect, headers, body silence, and the grace of the total deadline. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** Slower than this on average (after the grace), a transfer is given up: 16 KiB/s. */
export const DEFAULT_MIN_BYTES_PER_SECOND = 16 * 1024;

export interface TransferLimits {
  /** Default {@link DEFAULT_TIMEOUT_MS}. */
  timeoutMs: number;
  /** Default {@link DEFAULT_MIN_BYTES_PER_SECOND}. */
  minBytesPerSecond: number;
}

export const DEFAULT_LIMITS: Readonly<TransferLimits> = Object.freeze({
  timeoutMs: DEFAULT_TIMEOUT_MS,
  minBytesPerSecond: DEFAULT_MIN_BYTES_PER_SECOND,
});

/** What the deadline saw when it expired. */
export interface Expiry {
  elapsedMs: number;
  received: number;
  length: number | undefined;
}

export class TransferDeadline {
  private received = 0;
  private startedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private done = false;

  constructor(
    private readonly limits: TransferLimits,
    private readonly length: number | undefined,
    private readonly onExpire: (expiry: Expiry) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds a body of `bytes` may take. */
  static allowance(limits: TransferLimits, bytes: number): number {
    return limits.timeoutMs + (bytes / limits.minBytesPerSecond) * 1000;
  }

  start(): void {
    this.startedAt = this.now();
    this.schedule();
  }

  add(bytes: number): void {
    this.received += bytes;
  }

  stop(): void {
    this.done = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.done) return;
    const due = this.startedAt + TransferDeadline.allowance(this.limits, this.length ?? this.received);
    const wait = due - this.now();
    if (wait <= 0) {
      this.stop();
      this.onExpire({ elapsedMs: this.now() - this.startedAt, received: this.received, length: this.length });
      return;
    }
    this.timer = setTimeout(() => this.schedule(), Math.min(wait, 2 ** 31 - 1));
    this.timer.unref();
  }
}

type Handler = Dispatcher.DispatchHandler & Record<string, unknown>;

/**
 * `dispatcher` with the total deadline applied to the response of every
 * request sent through it. `onExpire` makes the error the body fails with.
 * Only the legacy handler protocol is wrapped, which is the one undici's
 * request API speaks.
 */
export function withDeadline(dispatcher: Dispatcher, limits: TransferLimits, onExpire: (expiry: Expiry) => Error): Dispatcher {
  const dispatch = (opts: Dispatcher.DispatchOptions, handler: Handler): boolean => {
    let abort: ((reason?: Error) => void) | undefined;
    let deadline: TransferDeadline | undefined;
    const call = (name: string, ...args: unknown[]): unknown => (handler[name] as ((...a: unknown[]) => unknown) | undefined)?.apply(handler, args);
    const wrapped: Record<string, unknown> = {
      onConnect: (a: (reason?: Error) => void, context: unknown) => {
        abort = a;
        return call('onConnect', a, context);
      },
      onHeaders: (statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string) => {
        if (statusCode >= 200 && deadline === undefined) {
          deadline = new TransferDeadline(limits, contentLength(rawHeaders), (expiry) => abort?.(onExpire(expiry)));
          deadline.start();
        }
        return call('onHeaders', statusCode, rawHeaders, resume, statusText);
      },
      onData: (chunk: Buffer) => {
        deadline?.add(chunk.length);
        return call('onData', chunk);
      },
      onComplete: (trailers: unknown) => {
        deadline?.stop();
        return call('onComplete', trailers);
      },
      onError: (err: Error) => {
        deadline?.stop();
        return call('onError', err);
      },
    };
    for (const name of ['onUpgrade', 'onBodySent', 'onResponseStarted', 'onRequestSent']) {
      if (typeof handler[name] === 'function') wrapped[name] = (...args: unknown[]) => call(name, ...args);
    }
    return dispatcher.dispatch(opts, wrapped as Dispatcher.DispatchHandler);
  };
  return { dispatch } as unknown as Dispatcher;
}

function contentLength(rawHeaders: Buffer[]): number | undefined {
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]?.toString('latin1').toLowerCase() === 'content-length') {
      const n = Number(rawHeaders[i + 1]?.toString('latin1'));
      return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
    }
  }
  return undefined;
}
