/**
 * Pushing one blob: HEAD first (a blob the repository has is never sent
 * again), then a cross-repository mount when the caller knows a repository
 * on the same registry that holds it, else an upload session:
 *
 *   POST /v2/<repo>/blobs/uploads/                 -> 202, Location
 *   small:  PUT  <Location>&digest=<d>  (the body)  -> 201
 *   large:  PATCH <Location>            (the body)  -> 202, Location
 *           PUT  <Location>&digest=<d>  (empty)     -> 201
 *
 * Location may be relative or absolute and keeps its query. An upload that
 * fails part-way is never resent into the same session (the registry may
 * hold part of it); the whole upload restarts with a new session and a
 * reopened body, within the retry budget.
 */
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream';
import { HoistError } from '../src/errors.js';
import { verifiesDigest, type Descriptor, type GrowingBlob } from '../src/oci/index.js';
import { byteCounter } from '../src/oci/progress.js';
import { pullScope, pushScope } from './auth.js';
import { blobPath, type BlobLocation } from './blob-download.js';
import { isConnectionError, readErrorBody, RegistryError, statusError } from './errors.js';
import type { RegistryHttp } from './registry-http.js';
import { backoffDelay, pause, header, isRetryableStatus, type HttpResponse, type RetryPolicy, discardBody } from './transport.js';

/** What pushing a blob took. */
export type BlobPushResult = 'exists' | 'mounted' | 'uploaded';

/** Blobs up to this size go in one PUT; larger ones are streamed with PATCH then committed. */
export const DEFAULT_MONOLITHIC_LIMIT = 16 * 1024 * 1024;

export interface UploadOptions {
  policy: RetryPolicy;
  monolithicLimit: number;
  /** A repository on the same registry believed to hold the blob. */
  mountFrom?: string;
  signal?: AbortSignal;
  /** Told the bytes handed to the connection so far; an upload that restarts counts from 0 again. */
  onProgress?: ((sent: number) => void) | undefined;
}

/** A failure worth restarting the upload for. */
class RetryableUpload extends Error {}

function describe(loc: BlobLocation, desc: Descriptor): string {
  return `blob ${desc.digest} to ${loc.registry}/${loc.repository}`;
}

function locationOf(res: HttpResponse, what: string): URL {
  const loc = header(res.headers, 'location');
  if (loc === undefined || loc === '') {
    throw new RegistryError('REGISTRY_PROTOCOL', `${what}: the registry answered ${res.status} without a Location`);
  }
  return new URL(loc, res.url);
}

function withDigest(url: URL, desc: Descriptor): URL {
  const u = new URL(url);
  u.searchParams.set('digest', desc.digest);
  return u;
}

export async function blobExistsAt(http: RegistryHttp, loc: BlobLocation, desc: Pick<Descriptor, 'digest'>, scopes: readonly string[], signal?: AbortSignal): Promise<boolean> {
  const what = `HEAD blob ${desc.digest} in ${loc.registry}/${loc.repository}`;
  const res = await http.request(
    loc.registry,
    { method: 'HEAD', target: blobPath(loc, desc), scopes, ...(signal ? { signal } : {}) },
    what,
  );
  await discardBody(res);
  if (res.status === 200) return true;
  if (res.status === 404) return false;
  throw statusError(what, loc.registry, res.status);
}

export async function uploadBlob(
  http: RegistryHttp,
  loc: BlobLocation,
  desc: Descriptor,
  open: () => Promise<Readable>,
  opts: UploadOptions,
): Promise<BlobPushResult> {
  const scopes = [pushScope(loc.repository)];
  const signal = opts.signal ? { signal: opts.signal } : {};
  if (await blobExistsAt(http, loc, desc, scopes, opts.signal)) return 'exists';

  const what = `push ${describe(loc, desc)}`;
  const start = async (mount: boolean): Promise<URL | 'mounted'> => {
    const target = new URL(`/v2/${loc.repository}/blobs/uploads/`, 'http://placeholder');
    const mountScopes = [...scopes];
    if (mount && opts.mountFrom !== undefined) {
      target.searchParams.set('mount', desc.digest);
      target.searchParams.set('from', opts.mountFrom);
      mountScopes.push(pullScope(opts.mountFrom));
    }
    const res = await http.request(
      loc.registry,
      { method: 'POST', target: target.pathname + target.search, scopes: mountScopes, headers: { 'content-length': '0' }, ...signal },
      what,
    );
    if (res.status === 201 && mount) {
      await discardBody(res);
      return 'mounted';
    }
    if (res.status !== 202) throw statusError(what, loc.registry, res.status, await readErrorBody(res.body));
    await discardBody(res);
    return locationOf(res, what);
  };

  // The registry checks the digest of what it receives (DIGEST_INVALID), and hoist's
  // sources verify blobs as they read them (which enforces the size too): a source that
  // does not gets only its length checked, so a short or long blob fails clearly here.
  const verifiedOpen = async (): Promise<Readable> => {
    const checked = await checkedOpen();
    if (opts.onProgress === undefined) return checked;
    const counted = byteCounter(opts.onProgress);
    pipeline(checked, counted, () => undefined);
    return counted;
  };
  const checkedOpen = async (): Promise<Readable> => {
    const source = await open();
    if (verifiesDigest(source, desc.digest, desc.size)) return source;
    const check = sizeCheckingStream(desc.size, `${describe(loc, desc)} (local content)`);
    pipeline(source, check, () => undefined);
    return check;
  };

  const send = async (method: 'PUT' | 'PATCH', url: URL, body: boolean, okStatus: number, extra: Record<string, string> = {}): Promise<HttpResponse> => {
    let res: HttpResponse;
    try {
      res = await http.request(
        loc.registry,
        {
          method,
          target: url,
          scopes,
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(body ? desc.size : 0), ...extra },
          ...(body ? { body: verifiedOpen } : {}),
          retry: false,
          ...signal,
        },
        what,
      );
    } catch (err) {
      if (err instanceof RegistryError && isConnectionError(err.cause)) throw new RetryableUpload('connection', { cause: err });
      throw err;
    }
    if (res.status === okStatus) return res;
    const error = statusError(what, loc.registry, res.status, await readErrorBody(res.body));
    if (isRetryableStatus(res.status)) throw new RetryableUpload('status', { cause: error });
    throw error;
  };

  let mount = opts.mountFrom !== undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      const session = await start(mount);
      if (session === 'mounted') return 'mounted';
      mount = false; // the registry declined the mount; never ask twice
      if (desc.size <= opts.monolithicLimit) {
        await discardBody(await send('PUT', withDigest(session, desc), true, 201));
      } else {
        const patched = await send('PATCH', session, true, 202, desc.size > 0 ? { 'content-range': `0-${desc.size - 1}` } : {});
        await discardBody(patched);
        await discardBody(await send('PUT', withDigest(locationOf(patched, what), desc), false, 201));
      }
      return 'uploaded';
    } catch (err) {
      if (!(err instanceof RetryableUpload)) throw err;
      if (attempt >= opts.policy.maxAttempts) throw err.cause;
      await pause(backoffDelay(opts.policy, attempt), opts.signal);
    }
  }
}


/** Passes bytes through, failing when there are more or fewer than `size`. */
function sizeCheckingStream(size: number, describe: string): Transform {
  let seen = 0;
  const mismatch = (message: string): HoistError =>
    new HoistError('DIGEST_MISMATCH', message, { hint: 'the local content is corrupt or was truncated; rebuild or fetch it again' });
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length;
      if (seen > size) cb(mismatch(`${describe}: more than the expected ${size} bytes`));
      else cb(null, chunk);
    },
    flush(cb) {
      cb(seen === size ? null : mismatch(`${describe}: got ${seen} bytes, expected ${size}`));
    },
  });
}

/**
 * Push a blob while it is still being written (a layer being compressed):
 * an upload session, one PATCH whose body streams the bytes as they come
 * (chunked, no Content-Range: the registry takes what arrives, as for
 * docker push), then the PUT with the digest once the blob is complete.
 * The registry checks that digest against what it received.
 *
 * A blob's digest is known only at its end, so the repository cannot be
 * asked first whether it holds it (the HEAD of uploadBlob). It is asked as
 * soon as the digest is known: if it does, what is still to send is not
 * sent ('exists'), which matters on a slow link, where the stream lags
 * behind the compression.
 *
 * No retry and no fallback here: the caller sends the stored blob again if
 * this fails.
 */
export async function uploadGrowingBlob(
  http: RegistryHttp,
  loc: BlobLocation,
  blob: GrowingBlob,
  signal?: AbortSignal,
  onProgress?: (sent: number) => void,
): Promise<BlobPushResult> {
  // Claimed before the first request, so that nobody closes the blob's file while this waits for it.
  const source = blob.chunks();
  try {
    return await streamUpload(http, loc, blob, source, signal, onProgress);
  } finally {
    blob.discard();
  }
}

async function streamUpload(
  http: RegistryHttp,
  loc: BlobLocation,
  blob: GrowingBlob,
  source: AsyncIterable<Buffer>,
  signal: AbortSignal | undefined,
  onProgress: ((sent: number) => void) | undefined,
): Promise<BlobPushResult> {
  const scopes = [pushScope(loc.repository)];
  const withSignal = signal ? { signal } : {};
  const what = `push a blob to ${loc.registry}/${loc.repository} while it is written`;
  const started = await http.request(
    loc.registry,
    { method: 'POST', target: `/v2/${loc.repository}/blobs/uploads/`, scopes, headers: { 'content-length': '0' }, ...withSignal },
    what,
  );
  if (started.status !== 202) throw statusError(what, loc.registry, started.status, await readErrorBody(started.body));
  await discardBody(started);
  let sent = 0;
  const body = async (): Promise<Readable> => {
    const counted = byteCounter((n) => {
      sent = n;
      onProgress?.(n);
    });
    pipeline(Readable.from(source), counted, () => undefined);
    return counted;
  };
  const stop = new AbortController();
  let patching = true;
  void blob.descriptor.then(
    async (desc) => {
      if (patching && (await blobExistsAt(http, loc, desc, scopes, signal).catch(() => false)) && patching) stop.abort();
    },
    () => undefined,
  );
  let patched: HttpResponse;
  try {
    patched = await http.request(
      loc.registry,
      {
        method: 'PATCH',
        target: locationOf(started, what),
        scopes,
        headers: { 'content-type': 'application/octet-stream' },
        body,
        retry: false,
        signal: signal === undefined ? stop.signal : AbortSignal.any([signal, stop.signal]),
      },
      what,
    );
  } catch (err) {
    if (stop.signal.aborted && signal?.aborted !== true) return 'exists';
    throw err;
  } finally {
    patching = false;
  }
  if (patched.status !== 202) throw statusError(what, loc.registry, patched.status, await readErrorBody(patched.body));
  await discardBody(patched);
  const desc = await blob.descriptor;
  if (sent !== desc.size) throw new RegistryError('REGISTRY_PROTOCOL', `${what}: sent ${sent} bytes of ${desc.size}`);
  const put = await http.request(
    loc.registry,
    // No body: a PUT that met a passing failure is sent again rather than the whole blob.
    { method: 'PUT', target: withDigest(locationOf(patched, what), desc), scopes, headers: { 'content-length': '0' }, ...withSignal },
    what,
  );
  if (put.status !== 201) throw statusError(what, loc.registry, put.status, await readErrorBody(put.body));
  await discardBody(put);
  return 'uploaded';
}
