/**
 * A token server for the registry's `auth.token` mode (the Docker/OCI bearer
 * flow), served with node:http (or node:https) on a loopback port.
 *
 * GET  /token?service=S&scope=repository:NAME:pull,push[&scope=...][&account=U][&offline_token=true]
 *      with optional `Authorization: Basic ...`
 *      -> 200 {"token", "access_token", "expires_in", "issued_at"[, "refresh_token"]}
 * POST /token (OAuth2, application/x-www-form-urlencoded):
 *      grant_type=password (username, password) or grant_type=refresh_token
 *      (refresh_token), plus service, scope (space-separated), client_id,
 *      access_type=offline -> 200 {"access_token", "token", "expires_in", "issued_at", "scope"[, "refresh_token"]}
 *
 * Tokens are RS256 JWTs with an `x5c` header holding the signer certificate
 * (which is the registry's rootcertbundle).
 */
import { createSign, randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { listenOnLoopback } from '../net.js';
import type { KeyAndCert, SignerCert } from './certs.js';

export interface TokenAccess {
  type: string;
  name: string;
  actions: string[];
}

/** One request the token server saw (newest last). */
export interface TokenRequest {
  method: string;
  /** The scope parameters as given (each `scope` query parameter; a space-separated POST scope is split). */
  scope: string[];
  service?: string;
  account?: string;
  /** The raw Authorization header, if any (e.g. `Basic dXNlcjpwYXNz`). */
  authorization?: string;
  offlineToken?: boolean;
  /** POST only: the grant_type form field. */
  grantType?: string;
  /** The HTTP status the token server answered. */
  status: number;
  /** The access granted in the issued token (empty when refused). */
  granted: TokenAccess[];
  /** The `sub` of the issued token ('' for anonymous). */
  subject?: string;
}

export interface TokenServerOptions {
  service: string;
  issuer: string;
  signer: SignerCert;
  /** The one user that exists. Without both, any Basic credentials are refused. */
  username?: string;
  password?: string;
  /** Anonymous requests get pull-only tokens (otherwise: tokens granting nothing, as Docker Hub does). */
  allowAnonymousPull?: boolean;
  /** Serve HTTPS with this certificate. */
  tls?: KeyAndCert;
  /** Token lifetime, seconds (default 300). */
  ttlSeconds?: number;
}

export interface TokenServer {
  /** The realm URL: `http(s)://127.0.0.1:PORT/token`. */
  realm: string;
  requests(): TokenRequest[];
  resetRequests(): void;
  close(): Promise<void>;
}

const KNOWN_ACTIONS = new Set(['pull', 'push', 'delete', '*']);

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** Sign a JWT (RS256, x5c header) for the given claims. */
export function signJwt(signer: SignerCert, claims: Record<string, unknown>): string {
  const header = { alg: 'RS256', typ: 'JWT', x5c: [signer.certDerBase64] };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const sig = createSign('RSA-SHA256').update(input).sign(signer.keyPem);
  return `${input}.${b64url(sig)}`;
}

/** Parse `type:name:actions` (the name may itself contain ':' only in the middle part). */
export function parseScope(scope: string): TokenAccess | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last <= first) return undefined;
  const type = scope.slice(0, first);
  const name = scope.slice(first + 1, last);
  const actions = scope
    .slice(last + 1)
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
  if (name === '') return undefined;
  return { type, name, actions };
}

function parseBasic(header: string | undefined): { username: string; password: string } | undefined {
  if (header === undefined) return undefined;
  const m = /^Basic\s+(.+)$/i.exec(header.trim());
  if (!m || m[1] === undefined) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function readBody(req: http.IncomingMessage, limit = 1 << 20): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > limit) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startTokenServer(opts: TokenServerOptions): Promise<TokenServer> {
  const seen: TokenRequest[] = [];
  const refreshTokens = new Map<string, string>(); // refresh token -> username
  const ttl = opts.ttlSeconds ?? 300;

  /** Who is asking: a username, '' for anonymous, or undefined for refused credentials. */
  function identify(creds: { username: string; password: string } | undefined): string | undefined {
    if (creds === undefined) return '';
    if (opts.username === undefined || opts.password === undefined) return undefined;
    return creds.username === opts.username && creds.password === opts.password ? creds.username : undefined;
  }

  function grant(subject: string, scopes: string[]): TokenAccess[] {
    const out: TokenAccess[] = [];
    for (const s of scopes) {
      const a = parseScope(s);
      if (a === undefined) continue;
      let actions = a.actions.filter((x) => KNOWN_ACTIONS.has(x));
      if (subject === '') {
        actions = opts.allowAnonymousPull && a.type === 'repository' ? actions.filter((x) => x === 'pull') : [];
      }
      if (actions.length === 0) continue;
      const existing = out.find((o) => o.type === a.type && o.name === a.name);
      if (existing) existing.actions = [...new Set([...existing.actions, ...actions])];
      else out.push({ type: a.type, name: a.name, actions });
    }
    return out;
  }

  function issue(subject: string, access: TokenAccess[]): { token: string; expires_in: number; issued_at: string } {
    const now = Math.floor(Date.now() / 1000);
    const token = signJwt(opts.signer, {
      iss: opts.issuer,
      sub: subject,
      aud: opts.service,
      exp: now + ttl,
      nbf: now - 5,
      iat: now,
      jti: randomUUID(),
      access,
    });
    return { token, expires_in: ttl, issued_at: new Date(now * 1000).toISOString() };
  }

  function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  function unauthorized(res: http.ServerResponse, record: TokenRequest, message: string): void {
    record.status = 401;
    send(res, 401, { errors: [{ code: 'UNAUTHORIZED', message }] }, { 'www-authenticate': 'Basic realm="hoist test token server"' });
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://token.invalid');
    if (url.pathname !== '/token') {
      send(res, 404, { errors: [{ code: 'NOT_FOUND', message: 'only /token is served' }] });
      return;
    }
    const authorization = req.headers.authorization;
    const record: TokenRequest = { method: req.method ?? 'GET', scope: [], status: 0, granted: [] };
    if (authorization !== undefined) record.authorization = authorization;
    seen.push(record);

    if (req.method === 'GET') {
      record.scope = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter((s) => s !== '');
      const service = url.searchParams.get('service');
      const account = url.searchParams.get('account');
      if (service !== null) record.service = service;
      if (account !== null) record.account = account;
      record.offlineToken = url.searchParams.get('offline_token') === 'true';
      const creds = parseBasic(authorization);
      if (authorization !== undefined && creds === undefined) return unauthorized(res, record, 'unsupported Authorization header');
      const subject = identify(creds);
      if (subject === undefined) return unauthorized(res, record, 'invalid username or password');
      if (account !== null && subject !== '' && account !== subject) return unauthorized(res, record, 'account does not match the credentials');
      if (service !== null && service !== opts.service) return unauthorized(res, record, `unknown service ${service}`);
      record.granted = grant(subject, record.scope);
      record.subject = subject;
      const issued = issue(subject, record.granted);
      const body: Record<string, unknown> = { ...issued, access_token: issued.token };
      if (record.offlineToken && subject !== '') {
        const rt = randomBytes(24).toString('base64url');
        refreshTokens.set(rt, subject);
        body.refresh_token = rt;
      }
      record.status = 200;
      return send(res, 200, body);
    }

    if (req.method === 'POST') {
      const form = new URLSearchParams(await readBody(req));
      const grantType = form.get('grant_type') ?? '';
      record.grantType = grantType;
      record.scope = (form.get('scope') ?? '').split(' ').filter((s) => s !== '');
      const service = form.get('service');
      if (service !== null) record.service = service;
      const username = form.get('username');
      if (username !== null) record.account = username;
      record.offlineToken = form.get('access_type') === 'offline';
      let subject: string | undefined;
      let refresh: string | undefined;
      if (grantType === 'password') {
        subject = identify({ username: username ?? '', password: form.get('password') ?? '' });
        if (subject !== undefined && record.offlineToken) refresh = randomBytes(24).toString('base64url');
      } else if (grantType === 'refresh_token') {
        const rt = form.get('refresh_token') ?? '';
        subject = refreshTokens.get(rt);
        if (subject !== undefined) refresh = rt;
      } else {
        record.status = 400;
        return send(res, 400, { error: 'unsupported_grant_type', error_description: `grant_type ${grantType}` });
      }
      if (subject === undefined) return unauthorized(res, record, 'invalid credentials');
      if (service !== null && service !== opts.service) return unauthorized(res, record, `unknown service ${service}`);
      record.granted = grant(subject, record.scope);
      record.subject = subject;
      const issued = issue(subject, record.granted);
      const body: Record<string, unknown> = {
        access_token: issued.token,
        token: issued.token,
        expires_in: issued.expires_in,
        issued_at: issued.issued_at,
        scope: record.granted.map((g) => `${g.type}:${g.name}:${g.actions.join(',')}`).join(' '),
      };
      if (refresh !== undefined) {
        refreshTokens.set(refresh, subject);
        body.refresh_token = refresh;
      }
      record.status = 200;
      return send(res, 200, body);
    }

    record.status = 405;
    send(res, 405, { errors: [{ code: 'UNSUPPORTED', message: 'GET or POST' }] });
  }

  const listener = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, { errors: [{ code: 'UNKNOWN', message: String(e) }] });
      else res.destroy();
    });
  };
  const server: http.Server = opts.tls
    ? https.createServer({ cert: opts.tls.certPem, key: opts.tls.keyPem }, listener)
    : http.createServer(listener);
  const realm = `${opts.tls ? 'https' : 'http'}://${await listenOnLoopback(server)}/token`;

  let closing: Promise<void> | undefined;
  return {
    realm,
    requests: () => seen.map((r) => ({ ...r, scope: [...r.scope], granted: r.granted.map((g) => ({ ...g, actions: [...g.actions] })) })),
    resetRequests: () => {
      seen.length = 0;
    },
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
