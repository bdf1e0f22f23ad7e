/**
 * A blob download that survives dropped connections: when the body breaks
 * off after N bytes, the blob is asked for again with `Range: bytes=N-` and
 * the stream continues where it stopped (a server that ignores Range and
 * answers 200 has its first N bytes skipped). The whole stream is verified
 * against the descriptor's digest and size, so a resume that went wrong
 * cannot go unnoticed.
 */
import type { Readable } from 'node:stream';
import { verifyingStream, type Descriptor } from '../src/oci/index.js';
import { HoistError } from '../src/errors.js';
import { pullScope } from './auth.js';
import { connectionFailure, isConnectionError, readErrorBody, RegistryError, statusError } from './errors.js';
import type { RegistryHttp } from './registry-http.js';
import { backoffDelay, pause, header, type HttpResponse, type RetryPolicy } from './transport.js';

export interface BlobLocation {
  /** Reference domain, e.g. `127.0.0.1:5000`. */
  registry: string;
  /** Repository path, e.g. `library/busybox`. */
  repository: string;
}

type Body = HttpResponse['body'];

export interface DownloadOptions {
  policy: RetryPolicy;
  signal?: AbortSignal;
  /** Told the bytes received so far after each chunk. */
  onProgress?: ((received: number) => void) | undefined;
}

export function blobPath(loc: BlobLocation, desc: Pick<Descriptor, 'digest'>): string {
  return `/v2/${loc.repository}/blobs/${desc.digest}`;
}

function describe(loc: BlobLocation, desc: Descriptor): string {
  return `blob ${desc.digest} from ${loc.registry}/${loc.repository}`;
}

/** Where a 206 answer starts, from `Content-Range: bytes START-END/TOTAL`. */
export function contentRangeStart(value: string | undefined): number | undefined {
  const m = value === undefined ? null : /^bytes\s+(\d+)-\d+\/(?:\d+|\*)$/i.exec(value.trim());
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

async function get(http: RegistryHttp, loc: BlobLocation, desc: Descriptor, from: number, opts: DownloadOptions): Promise<HttpResponse> {
  const what = `GET ${describe(loc, desc)}`;
  const headers: Record<string, string> = { accept: '*/*' };
  if (from > 0) headers.range = `bytes=${from}-`;
  const res = await http.request(
    loc.registry,
    { method: 'GET', target: blobPath(loc, desc), scopes: [pullScope(loc.repository)], headers, ...(opts.signal ? { signal: opts.signal } : {}) },
    what,
  );
  if (res.status === 200 || (from > 0 && res.status === 206)) return res;
  throw statusError(what, loc.registry, res.status, await readErrorBody(res.body));
}

/**
 * Open a blob from the registry: a verified stream of exactly its content.
 * The response body is fed straight into the verifying stream (no
 * generator, no extra pipe stage: this is the per-byte path of every pull);
 * a connection lost mid-body switches to the next ranged response.
 */
export async function downloadBlob(http: RegistryHttp, loc: BlobLocation, desc: Descriptor, opts: DownloadOptions): Promise<Readable> {
  const first = await get(http, loc, desc, 0, opts);
  const what = `GET ${describe(loc, desc)}`;
  const out = verifyingStream({ digest: desc.digest, size: desc.size }, describe(loc, desc));
  let body: Body = first.body;
  let received = 0;
  let skip = 0; // bytes a server that ignored Range sends again
  let resumes = 0;
  let settled = false;
  // Stops a backoff or ranged request in progress when the consumer goes away.
  const stop = new AbortController();
  const abortWithCaller = (): void => stop.abort(opts.signal?.reason);
  opts.signal?.addEventListener('abort', abortWithCaller, { once: true });
  const retryOpts: DownloadOptions = { ...opts, signal: stop.signal };

  const finish = (err?: unknown): void => {
    if (settled) return;
    settled = true;
    if (err === undefined) out.end();
    else out.destroy(err as Error);
  };

  const follow = (b: Body): void => {
    body = b;
    b.on('data', (raw: Buffer) => {
      if (settled || out.destroyed) return;
      let chunk = raw;
      if (skip > 0) {
        const drop = Math.min(skip, chunk.length);
        skip -= drop;
        chunk = chunk.subarray(drop);
        if (chunk.length === 0) return;
      }
      received += chunk.length;
      opts.onProgress?.(received);
      if (!out.write(chunk)) b.pause();
    });
    b.once('end', () => finish());
    b.once('error', (err: unknown) => void resume(b, err));
  };

  const resume = async (broken: Body, err: unknown): Promise<void> => {
    broken.removeAllListeners('data');
    broken.on('error', () => undefined);
    broken.destroy();
    if (settled) return;
    if (opts.signal?.aborted === true || err instanceof HoistError || !isConnectionError(err)) return finish(err);
    if (received >= desc.size) return finish(); // all bytes arrived; verification decides
    resumes++;
    if (resumes >= opts.policy.maxAttempts) {
      return finish(connectionFailure(`${what}: connection lost after ${received} of ${desc.size} bytes`, loc.registry, err));
    }
    try {
      await pause(backoffDelay(opts.policy, resumes), stop.signal);
      if (settled) return;
      const res = await get(http, loc, desc, received, retryOpts);
      if (settled) {
        res.body.destroy();
        return;
      }
      if (res.status === 206) {
        const start = contentRangeStart(header(res.headers, 'content-range'));
        if (start !== received) {
          res.body.destroy();
          return finish(new RegistryError('REGISTRY_PROTOCOL', `${what}: asked to resume at byte ${received}, the registry sent a range starting at ${start ?? '?'}`));
        }
        skip = 0;
      } else {
        skip = received; // the registry ignored Range: drop what we already have
      }
      follow(res.body);
    } catch (e) {
      finish(e);
    }
  };

  // The consumer may attach only after the stream has failed (a small corrupt blob can be
  // whole before the store has opened its temp file); it still sees the error, from the
  // stream's errored state, so no 'error' event may go unhandled meanwhile.
  out.on('error', () => undefined);
  out.on('drain', () => body.resume());
  // A consumer that gives up (or a failed verification) releases the response in flight.
  out.once('close', () => {
    settled = true;
    body.destroy();
    opts.signal?.removeEventListener('abort', abortWithCaller);
    stop.abort();
  });
  follow(first.body);
  return out;
}
