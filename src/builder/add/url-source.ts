/**
 * ADD's URL sources: `ADD [--checksum=<digest>] https://host/path <dest>`.
 *
 * One GET (redirects followed, up to fetch's 20), streamed to a temporary
 * file with a unique name in `tmpDir` while it is hashed: memory does not
 * grow with the download. On any failure the temporary file is removed.
 *
 * What Docker/BuildKit do, and hoist with them:
 * - The file name is the last segment of the URL's path, percent-decoded,
 *   query and fragment ignored; `__unnamed__` when the path has none
 *   (`https://host`, `https://host/`). The Dockerfile frontend
 *   (dockerfile2llb convert.go) always passes that name to the HTTP source,
 *   so a Content-Disposition header is never consulted for ADD, and the
 *   URL the request was made with counts, not the one redirects ended at.
 * - The mtime is the Last-Modified header's. When there is none BuildKit
 *   uses the epoch (0); `mtime` is then undefined and the caller decides.
 * - Remote files are never extracted, whatever they contain; the caller
 *   gives the file mode 0600 unless --chmod says otherwise.
 * - `--checksum` accepts sha256, sha384 and sha512 digests; a mismatch
 *   fails the build.
 * - Credentials in the URL (`https://user:pass@host/...`) are sent as HTTP
 *   basic auth, as Go's client does (fetch refuses such URLs); every
 *   message shows the URL with them replaced by `xxxxx` (src/redact.ts,
 *   BuildKit's urlutil.RedactCredentials), and the password is masked in
 *   any text a library or the server puts into a message.
 * - The response is taken byte for byte: hoist asks for
 *   `Accept-Encoding: identity`, so a server that would gzip a `.tar.gz` on
 *   the wire cannot turn it into a `.tar` (the bytes a checksum was
 *   computed over with `curl` or `sha256sum`).
 */
import { createHash, randomUUID, type Hash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { fetch as undiciFetch, type Dispatcher } from 'undici';
import { causes, HoistError } from '../../errors.js';
import { DEFAULT_LIMITS, TransferDeadline } from '../../../registry/deadline.js';
import type { Digest } from '../../oci/digest.js';
import { basicSecrets, redactText, redactUrl } from '../../redact.js';

export { redactUrl };

export interface DownloadOptions {
  /** Directory the temporary file is created in (it must exist). */
  tmpDir: string;
  /** `--checksum`: `sha256:<hex>`, `sha384:<hex>` or `sha512:<hex>`. */
  checksum?: string;
  /** An undici Dispatcher (proxy, TLS options, connection reuse, tests). */
  dispatcher?: Dispatcher;
  /** A fetch to use instead of undici's (tests, instrumentation). */
  fetch?: typeof undiciFetch;
  /**
   * Grace of the total deadline: the body must arrive within this plus its
   * size at 16 KiB/s (registry/deadline.ts). Default 30 s. Connect, header and
   * idle timeouts are the dispatcher's (registry/url-dispatcher.ts).
   */
  timeoutMs?: number;
  /** Extra request headers (e.g. Authorization from a secret). */
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface DownloadResult {
  /** The temporary file holding the content; the caller moves or removes it. */
  path: string;
  size: number;
  /** sha256 of the content. */
  digest: Digest;
  /** The name the file gets in the image when the destination is a directory (see urlFileName). */
  filename: string;
  /** Last-Modified, in seconds since the epoch; undefined when the server sent none (BuildKit then uses 0). */
  mtime: number | undefined;
}

const UNNAMED = '__unnamed__';
const CHECKSUM_RE = /^(sha256|sha384|sha512):([0-9a-f]+)$/;
const HEX_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

/**
 * The name ADD gives a URL's file: the last segment of the path,
 * percent-decoded, without query or fragment; `__unnamed__` when there is
 * none or it cannot be a file name (`.`, `..`, a NUL byte, an invalid
 * percent escape) — BuildKit's `path.Base(u.Path)` rule.
 */
export function urlFileName(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return UNNAMED;
  }
  let path: string;
  try {
    path = decodeURIComponent(parsed.pathname);
  } catch {
    return UNNAMED; // Go's url.Parse rejects a bad escape; BuildKit then falls back
  }
  const trimmed = path.replace(/\/+$/, '');
  const base = trimmed.slice(trimmed.lastIndexOf('/') + 1);
  if (base === '' || base === '.' || base === '..' || base.includes('\0')) return UNNAMED;
  return base;
}

/** Downloads `url` to a new file in `opts.tmpDir`, verifying `opts.checksum` on the way. */
export async function downloadUrl(url: string, opts: DownloadOptions): Promise<DownloadResult> {
  const shown = redactUrl(url);
  const expected = opts.checksum === undefined ? undefined : parseChecksum(opts.checksum);
  const { target, authorization, secrets } = requestTarget(url, shown);

  const headers: Record<string, string> = { 'accept-encoding': 'identity', 'user-agent': 'hoist', ...opts.headers };
  if (authorization !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'authorization')) {
    headers.authorization = authorization;
  }
  const doFetch = opts.fetch ?? undiciFetch;
  const init: Parameters<typeof undiciFetch>[1] = { method: 'GET', redirect: 'follow', headers };
  if (opts.signal !== undefined) init.signal = opts.signal;
  if (opts.dispatcher !== undefined) init.dispatcher = opts.dispatcher;

  let response: Awaited<ReturnType<typeof undiciFetch>>;
  try {
    response = await doFetch(target, init);
  } catch (err) {
    opts.signal?.throwIfAborted();
    if (hasUndiciCode(err, 'UND_ERR_HEADERS_TIMEOUT') || hasUndiciCode(err, 'UND_ERR_CONNECT_TIMEOUT')) {
      throw new HoistError('DOWNLOAD_TIMEOUT', `cannot download ${shown}: the server sent no answer in time (${describeFetchError(err, secrets)})`, {
        hint: 'the server or the network is stalled; retry, or raise --registry-timeout',
        cause: err,
      });
    }
    throw new HoistError('DOWNLOAD_FAILED', `cannot download ${shown}: ${describeFetchError(err, secrets)}`, {
      hint: 'check the URL, the network, and proxy settings (HTTPS_PROXY, NO_PROXY)',
      cause: err,
    });
  }

  if (!response.ok) {
    await response.body?.cancel().catch(() => undefined);
    throw new HoistError('DOWNLOAD_FAILED', `downloading ${shown} failed: HTTP ${response.status}${response.statusText === '' ? '' : ` ${response.statusText}`}`, {
      hint: hintForStatus(response.status),
    });
  }

  const path = join(opts.tmpDir, `hoist-download-${randomUUID()}`);
  const body = response.body === null ? Readable.from([]) : Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
  const limits = { ...DEFAULT_LIMITS, ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }) };
  const length = Number(response.headers.get('content-length') ?? NaN);
  const deadline = new TransferDeadline(limits, Number.isSafeInteger(length) ? length : undefined, ({ received, elapsedMs }) => {
    body.destroy(
      new HoistError('DOWNLOAD_TIMEOUT', `downloading ${shown}: ${received} bytes in ${(elapsedMs / 1000).toFixed(1)} s, slower than ${Math.round(limits.minBytesPerSecond / 1024)} KiB/s`, {
        hint: 'the server or the network is too slow or stalled; retry, or raise --registry-timeout',
      }),
    );
  });
  const hashing = new HashingStream(expected?.algorithm, (n) => deadline.add(n));
  deadline.start();
  try {
    await pipeline(body, hashing, createWriteStream(path, { flags: 'wx', mode: 0o600 }), opts.signal === undefined ? {} : { signal: opts.signal });
  } catch (err) {
    await rm(path, { force: true });
    opts.signal?.throwIfAborted();
    if (err instanceof HoistError) throw err;
    if (hasUndiciCode(err, 'UND_ERR_BODY_TIMEOUT')) {
      throw new HoistError('DOWNLOAD_TIMEOUT', `downloading ${shown}: the server stopped sending after ${hashing.size} bytes`, {
        hint: 'the server or the network stalled; retry, or raise --registry-timeout',
        cause: err,
      });
    }
    throw new HoistError('DOWNLOAD_FAILED', `downloading ${shown} failed after ${hashing.size} bytes: ${describeFetchError(err, secrets)}`, {
      hint: 'the connection broke or the file could not be written; retry, and check the space left in the temporary directory',
      cause: err,
    });
  } finally {
    deadline.stop();
  }

  const digest = hashing.sha256();
  if (expected !== undefined) {
    const actual = hashing.checksum();
    if (actual !== `${expected.algorithm}:${expected.hex}`) {
      await rm(path, { force: true });
      throw new HoistError('CHECKSUM_MISMATCH', `checksum mismatch for ${shown}: expected ${expected.algorithm}:${expected.hex}, got ${actual}`, {
        hint: 'the file at this URL is not the one the Dockerfile pins with --checksum: it changed, or the download was tampered with',
      });
    }
  }

  return { path, size: hashing.size, digest, filename: urlFileName(url), mtime: lastModified(response.headers.get('last-modified')) };
}

function parseChecksum(value: string): { algorithm: string; hex: string } {
  const m = CHECKSUM_RE.exec(value);
  const algorithm = m?.[1];
  const hex = m?.[2];
  if (algorithm === undefined || hex === undefined || hex.length !== HEX_LENGTH[algorithm]) {
    throw new HoistError('INVALID_CHECKSUM', `invalid --checksum ${JSON.stringify(value)}`, {
      hint: 'use <algorithm>:<hex digest> with sha256, sha384 or sha512, e.g. --checksum=sha256:<64 lowercase hex digits>',
    });
  }
  return { algorithm, hex };
}

/** The URL fetch gets (no userinfo) and the basic credentials the userinfo carried. */
function requestTarget(url: string, shown: string): { target: string; authorization?: string; secrets: string[] } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new HoistError('INVALID_URL', `${shown} is not a valid URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new HoistError('INVALID_URL', `${shown}: only http and https URLs can be downloaded`);
  }
  if (parsed.username === '' && parsed.password === '') return { target: parsed.href, secrets: [] };
  const user = safeDecode(parsed.username);
  const pass = safeDecode(parsed.password);
  parsed.username = '';
  parsed.password = '';
  return { target: parsed.href, authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`, secrets: basicSecrets(user, pass) };
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Whether `err` or one of its causes carries undici's error `code` (fetch wraps them in a TypeError "terminated"). */
function hasUndiciCode(err: unknown, code: string): boolean {
  for (const e of causes(err)) if ((e as { code?: unknown }).code === code) return true;
  return false;
}

function describeFetchError(err: unknown, secrets: readonly string[]): string {
  if (!(err instanceof Error)) return redactText(String(err), secrets);
  const cause = err.cause instanceof Error ? err.cause : undefined;
  if (cause === undefined) return redactText(err.message, secrets);
  const code = (cause as NodeJS.ErrnoException).code;
  return redactText(`${err.message}: ${cause.message}${code !== undefined && !cause.message.includes(code) ? ` (${code})` : ''}`, secrets);
}

function hintForStatus(status: number): string {
  if (status === 401 || status === 403) return 'the server refused access: check the credentials the URL needs';
  if (status === 404 || status === 410) return 'check the URL: the server has no file there';
  if (status === 429 || status >= 500) return 'the server is failing or rate-limiting; retry later';
  return 'check the URL';
}

/** Seconds since the epoch from an HTTP date, or undefined. */
function lastModified(value: string | null): number | undefined {
  if (value === null) return undefined;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
}

/** Pass-through that counts and computes sha256 (and the --checksum algorithm when it differs). */
class HashingStream extends Transform {
  size = 0;
  private readonly main: Hash = createHash('sha256');
  private readonly extra: Hash | undefined;
  private mainHex: string | undefined;

  constructor(
    private readonly algorithm: string | undefined,
    private readonly onBytes: (n: number) => void = () => undefined,
  ) {
    super();
    this.extra = algorithm === undefined || algorithm === 'sha256' ? undefined : createHash(algorithm);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.size += chunk.length;
    this.onBytes(chunk.length);
    this.main.update(chunk);
    this.extra?.update(chunk);
    cb(null, chunk);
  }

  sha256(): Digest {
    this.mainHex ??= this.main.digest('hex');
    return `sha256:${this.mainHex}`;
  }

  checksum(): string {
    if (this.extra === undefined) return this.sha256();
    return `${this.algorithm}:${this.extra.digest('hex')}`;
  }
}
