/**
 * Errors from talking to a registry. A RegistryError names what was asked
 * for (a reference, a repository or a registry), the HTTP status and the OCI
 * error codes the registry sent (`MANIFEST_UNKNOWN`, `DENIED`, ...), and
 * carries a hint. Messages never contain credentials: URLs and anything a
 * registry sends back pass through the one redactor (src/redact.ts), and the
 * client scrubs the credentials it holds from its errors (scrubError).
 */
import { causes, HoistError } from '../src/errors.js';
import { redactText, redactUrl } from '../src/redact.js';

export { redactText, redactUrl };

/** One entry of an OCI error body: `{"errors":[{"code","message","detail"}]}`. */
export interface OciError {
  code: string;
  message: string;
  detail?: unknown;
}

export type RegistryErrorCode =
  | 'REGISTRY_UNAUTHORIZED'
  | 'REGISTRY_DENIED'
  | 'REGISTRY_NOT_FOUND'
  | 'REGISTRY_TLS'
  | 'REGISTRY_UNREACHABLE'
  | 'REGISTRY_TIMEOUT'
  | 'REGISTRY_PROTOCOL'
  | 'REGISTRY_TOO_MANY_REQUESTS'
  | 'REGISTRY_ERROR'
  | 'MANIFEST_TOO_LARGE'
  | 'UNSUPPORTED_MANIFEST'
  | 'DIGEST_MISMATCH';

export interface RegistryErrorOptions {
  status?: number;
  ociErrors?: OciError[];
  hint?: string;
  cause?: unknown;
}

export class RegistryError extends HoistError {
  readonly status: number | undefined;
  readonly ociErrors: OciError[];

  constructor(code: RegistryErrorCode, message: string, options: RegistryErrorOptions = {}) {
    super(code, message, { hint: options.hint, cause: options.cause });
    this.status = options.status;
    this.ociErrors = options.ociErrors ?? [];
  }
}

/** Largest error body read; bodies are small JSON, anything bigger is not worth reading. */
const MAX_ERROR_BODY = 64 * 1024;

/** Parse an OCI error body; anything that is not one yields []. */
export function parseOciErrors(body: string | Buffer): OciError[] {
  let doc: unknown;
  try {
    doc = JSON.parse(typeof body === 'string' ? body : body.subarray(0, MAX_ERROR_BODY).toString('utf8'));
  } catch {
    return [];
  }
  if (typeof doc !== 'object' || doc === null) return [];
  const list = (doc as { errors?: unknown }).errors;
  if (!Array.isArray(list)) return [];
  const out: OciError[] = [];
  for (const e of list) {
    if (typeof e !== 'object' || e === null) continue;
    const { code, message, detail } = e as Record<string, unknown>;
    if (typeof code !== 'string') continue;
    const entry: OciError = { code, message: typeof message === 'string' ? message : '' };
    if (detail !== undefined && detail !== null) entry.detail = detail;
    out.push(entry);
  }
  return out;
}

/**
 * `url` when it is http or https; otherwise the registry sent somewhere hoist
 * will not go (`file:///etc/passwd` as a redirect or a token realm).
 * `role` names what the URL was: `a redirect`, `its token realm`.
 */
export function httpUrlOnly(url: URL, what: string, registry: string, role: string): URL {
  if (url.protocol === 'http:' || url.protocol === 'https:') return url;
  throw new RegistryError('REGISTRY_PROTOCOL', `${what}: ${registry} sent ${role} to a ${url.protocol.replace(/:$/, '')}: URL (${redactUrl(url)}); only http and https are followed`, {
    hint: `the registry at ${registry} is misconfigured or hostile; check the registry name`,
  });
}

/** What the user should do, by status. */
export function hintForStatus(status: number, registry: string): string | undefined {
  if (status === 401) return `run hoist login ${registry} or check credentials`;
  if (status === 403) return `check that your account may access this repository on ${registry}`;
  if (status === 404) return 'check the name and tag';
  if (status === 429) return `${registry} is rate-limiting requests; wait or log in to raise the limit`;
  if (status >= 500) return `${registry} failed to answer; try again later`;
  return undefined;
}

export function tlsHint(registry: string): string {
  return `pass the registry's CA with --registry-ca, put it in /etc/docker/certs.d/${registry}/ca.crt, or use --insecure-registry ${registry}`;
}

function codeForStatus(status: number): RegistryErrorCode {
  if (status === 401) return 'REGISTRY_UNAUTHORIZED';
  if (status === 403) return 'REGISTRY_DENIED';
  if (status === 404) return 'REGISTRY_NOT_FOUND';
  if (status === 429) return 'REGISTRY_TOO_MANY_REQUESTS';
  return 'REGISTRY_ERROR';
}

/**
 * The error for an unexpected HTTP status. `what` names the operation and
 * its target, e.g. `GET manifest 127.0.0.1:5000/app:1`.
 */
export function statusError(what: string, registry: string, status: number, body: string | Buffer = ''): RegistryError {
  const ociErrors = parseOciErrors(body);
  const detail =
    ociErrors.length > 0
      ? ociErrors.map((e) => (e.message === '' ? e.code : `${e.code}: ${e.message}`)).join('; ')
      : `HTTP ${status}`;
  const suffix = ociErrors.length > 0 ? ` (HTTP ${status})` : '';
  return new RegistryError(codeForStatus(status), `${what}: ${redactText(detail)}${suffix}`, {
    status,
    ociErrors: ociErrors.map((e) => ({ ...e, message: redactText(e.message) })),
    hint: hintForStatus(status, registry),
  });
}

/** Read at most MAX_ERROR_BODY bytes of an error response body and discard the rest. */
export async function readErrorBody(body: AsyncIterable<unknown> & { destroy?: () => void }): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of body) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      chunks.push(buf);
      total += buf.length;
      if (total >= MAX_ERROR_BODY) break;
    }
  } catch {
    // A broken error body still leaves the status to report.
  } finally {
    body.destroy?.();
  }
  return Buffer.concat(chunks).subarray(0, MAX_ERROR_BODY).toString('utf8');
}

const TLS_VERIFY_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
]);

function errCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Whether any error in `err`'s cause chain has a code that passes `test`. */
function hasCode(err: unknown, test: (code: string) => boolean): boolean {
  for (const e of causes(err)) {
    const code = errCode(e);
    if (code !== undefined && test(code)) return true;
  }
  return false;
}

/** The server's certificate was not trusted: retrying or falling back to another CA set will not help. */
export function isTlsVerificationError(err: unknown): boolean {
  return hasCode(err, (code) => TLS_VERIFY_CODES.has(code));
}

/** TLS failed below certificate checks (e.g. the server speaks plain HTTP): `ERR_SSL_*`, EPROTO. */
export function isTlsProtocolError(err: unknown): boolean {
  return hasCode(err, (code) => code.startsWith('ERR_SSL_') || code === 'EPROTO');
}

/**
 * The server answered a TLS ClientHello with something that is not TLS (a
 * plain-HTTP server's 400 reads as a wrong version number or a record too
 * long), or dropped the connection: it does not speak TLS here. A TLS alert
 * (a handshake failure, a client certificate required) is not this: that
 * server speaks TLS and wants something of the client.
 */
export function isNotTlsError(err: unknown): boolean {
  for (const e of causes(err)) {
    const code = errCode(e);
    if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' || code === 'ECONNRESET' || code === 'EPIPE') return true;
    if (code === 'EPROTO' && /wrong version number|packet length too long/i.test((e as Error).message ?? '')) return true;
  }
  return false;
}

const CONNECTION_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/** A dropped or failed connection worth another try. */
export function isConnectionError(err: unknown): boolean {
  return hasCode(err, (code) => CONNECTION_CODES.has(code));
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'ETIMEDOUT']);

/** No connection or no answer in time: worth one more try, not five. */
export function isTimeoutError(err: unknown): boolean {
  return hasCode(err, (code) => TIMEOUT_CODES.has(code));
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

/** The error for a registry that let every try time out. */
export function timeoutFailure(what: string, registry: string, err: unknown, timeoutMs: number, tries: number): RegistryError {
  const connect = hasCode(err, (code) => code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT');
  const problem = connect ? `could not connect to ${registry}` : `${registry} accepted the connection but sent no answer`;
  return new RegistryError('REGISTRY_TIMEOUT', `${what}: ${problem} within ${seconds(timeoutMs)} (${tries} ${tries === 1 ? 'try' : 'tries'})`, {
    hint: `check that ${registry} is up and healthy (and the proxy settings HTTPS_PROXY, NO_PROXY); for a registry that is just slow, raise --registry-timeout`,
    cause: err,
  });
}

/** The error for a response body that came slower than the minimum rate, or stalled. */
export function slowTransfer(what: string, registry: string, detail: string): RegistryError {
  return new RegistryError('REGISTRY_TIMEOUT', `${what}: ${registry} ${detail}`, {
    hint: `the registry or the network is too slow or stalled; retry, or raise --registry-timeout`,
  });
}

/** The error for a request that never got a response. */
export function connectionFailure(what: string, registry: string, err: unknown): RegistryError {
  if (err instanceof RegistryError) return err;
  const reason = describeCause(err);
  if (isTlsVerificationError(err) || isTlsProtocolError(err)) {
    return new RegistryError('REGISTRY_TLS', `${what}: TLS connection to ${registry} failed: ${reason}`, {
      hint: tlsHint(registry),
      cause: err,
    });
  }
  return new RegistryError('REGISTRY_UNREACHABLE', `${what}: cannot reach ${registry}: ${reason}`, {
    hint: `check that ${registry} is up and reachable`,
    cause: err,
  });
}

/** The same error with its message's leading operation (`ping host`) replaced by `what`. */
export function inContext(err: RegistryError, from: string, what: string): RegistryError {
  const message = err.message.startsWith(`${from}: `) ? `${what}: ${err.message.slice(from.length + 2)}` : `${what}: ${err.message}`;
  return new RegistryError(err.code as RegistryErrorCode, message, {
    ...(err.status === undefined ? {} : { status: err.status }),
    ociErrors: err.ociErrors,
    ...(err.hint === undefined ? {} : { hint: err.hint }),
    cause: err.cause,
  });
}

/** A short reason from an error chain, without anything that could carry credentials. */
function describeCause(err: unknown): string {
  const parts: string[] = [];
  for (const e of causes(err)) {
    const code = errCode(e);
    const message = e instanceof Error ? redactText(e.message) : '';
    const part = code !== undefined && !message.includes(code) ? `${message} (${code})` : message;
    if (part !== '' && !parts.includes(part)) parts.push(part);
  }
  return parts.join(': ') || 'unknown error';
}

/**
 * Mask `secrets` (the credentials and tokens a client holds) in an error's
 * message and hint, and in a RegistryError's OCI error messages, in place:
 * a registry may echo what it was sent. Returns `err`.
 */
export function scrubError<T>(err: T, secrets: readonly string[]): T {
  if (!(err instanceof Error) || secrets.length === 0) return err;
  err.message = redactText(err.message, secrets);
  if (err instanceof HoistError && err.hint !== undefined) Object.assign(err, { hint: redactText(err.hint, secrets) });
  if (err instanceof RegistryError) {
    for (const e of err.ociErrors) e.message = redactText(e.message, secrets);
  }
  return err;
}
