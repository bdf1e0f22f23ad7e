/**
 * Turns a registry's challenge, the keychain's credential and the scopes a
 * request needs into an Authorization header value:
 *
 * - Bearer challenge: a token from the realm, cached per (registry, scopes).
 *   Anonymous: `GET realm?service=S&scope=...`. Basic credentials: the same
 *   GET with `Authorization: Basic` (and `account=`). An identity token: the
 *   OAuth2 `POST realm` form with `grant_type=refresh_token`, falling back to
 *   the GET when the realm has no OAuth2 endpoint (404/405).
 * - Basic challenge: the basic credentials themselves.
 * - A registry token credential is sent as `Bearer <token>` whatever the challenge.
 *
 * Credentials and tokens live only in this object and in request headers;
 * they never reach an error message: `secrets()` lists them for the client
 * to scrub from whatever a registry sends back.
 */
import type { Challenge } from './challenge.js';
import { basicSecrets, redactUrl } from '../src/redact.js';
import { httpUrlOnly, RegistryError, readErrorBody, statusError } from './errors.js';
import type { Credential, Keychain } from './keychain/index.js';
import { TokenCache } from './token-cache.js';
import { header, readDocument, type Transport, discardBody } from './transport.js';

export const CLIENT_ID = 'hoist';
/** Token responses are small JSON; refuse anything absurd. */
const MAX_TOKEN_RESPONSE = 1024 * 1024;

export function pullScope(repository: string): string {
  return `repository:${repository}:pull`;
}

export function pushScope(repository: string): string {
  return `repository:${repository}:pull,push`;
}

function basicValue(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

interface TokenReply {
  token: string;
  expiresIn?: number;
  issuedAt?: string;
}

function parseTokenReply(text: string): TokenReply | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null) return undefined;
  const o = doc as Record<string, unknown>;
  const token = typeof o.token === 'string' && o.token !== '' ? o.token : o.access_token;
  if (typeof token !== 'string' || token === '') return undefined;
  const reply: TokenReply = { token };
  if (typeof o.expires_in === 'number') reply.expiresIn = o.expires_in;
  if (typeof o.issued_at === 'string') reply.issuedAt = o.issued_at;
  return reply;
}

export class Authenticator {
  private readonly credentials = new Map<string, Promise<Credential | undefined>>();
  /** Token requests in flight, so concurrent requests for one scope share one. */
  private readonly pending = new Map<string, Promise<string>>();
  /** Every credential string used so far: passwords, tokens, and the forms they are sent in. */
  private readonly used = new Set<string>();

  constructor(
    private readonly keychain: Keychain,
    private readonly transport: Transport,
    readonly tokens: TokenCache = new TokenCache(),
  ) {}

  /** The keychain's answer for a registry, asked once per client. */
  credential(registry: string): Promise<Credential | undefined> {
    let c = this.credentials.get(registry);
    if (c === undefined) {
      c = this.keychain.resolve(registry).then((cred) => {
        this.noteCredential(cred);
        return cred;
      });
      this.credentials.set(registry, c);
      c.catch(() => this.credentials.delete(registry));
    }
    return c;
  }

  /**
   * The Authorization value for a request to `registry` needing `scopes`,
   * or undefined to send none. `fresh` skips the token cache (after a 401).
   */
  async authorization(
    registry: string,
    challenge: Challenge | undefined,
    scopes: readonly string[],
    options: { fresh?: boolean; signal?: AbortSignal } = {},
  ): Promise<string | undefined> {
    const cred = await this.credential(registry);
    if (cred?.kind === 'registry-token') return `Bearer ${cred.token}`;
    if (challenge === undefined) return undefined;
    if (challenge.scheme === 'basic') return cred?.kind === 'basic' ? basicValue(cred.username, cred.password) : undefined;
    if (challenge.scheme !== 'bearer') return undefined;

    const all = [...new Set([...scopes, ...(challenge.params.scope?.split(' ').filter((s) => s !== '') ?? [])])].sort();
    if (options.fresh !== true) {
      const cached = this.tokens.get(registry, all);
      if (cached !== undefined) return `Bearer ${cached}`;
    }
    const key = `${registry}\n${all.join(' ')}`;
    let p = this.pending.get(key);
    if (p === undefined) {
      p = this.fetchToken(registry, challenge, all, cred, options.signal);
      this.pending.set(key, p);
      void p.then(
        () => this.pending.delete(key),
        () => this.pending.delete(key),
      );
    }
    return `Bearer ${await p}`;
  }

  /** The credentials and tokens this authenticator has used, to be masked wherever text is shown. */
  secrets(): string[] {
    return [...this.used];
  }

  private noteCredential(cred: Credential | undefined): void {
    if (cred === undefined) return;
    if (cred.kind === 'basic') for (const s of basicSecrets(cred.username, cred.password)) this.used.add(s);
    else this.used.add(cred.token);
  }

  /** Forget a bearer token the registry refused. */
  reject(registry: string, authorization: string | undefined): void {
    if (authorization?.startsWith('Bearer ') === true) this.tokens.invalidate(registry, authorization.slice('Bearer '.length));
  }

  private async fetchToken(
    registry: string,
    challenge: Challenge,
    scopes: string[],
    cred: Credential | undefined,
    signal: AbortSignal | undefined,
  ): Promise<string> {
    const realm = challenge.params.realm;
    if (realm === undefined || realm === '') {
      throw new RegistryError('REGISTRY_PROTOCOL', `${registry} asked for a bearer token but named no realm`);
    }
    let realmUrl: URL;
    try {
      realmUrl = new URL(realm);
    } catch {
      throw new RegistryError('REGISTRY_PROTOCOL', `${registry} named an invalid token realm ${JSON.stringify(redactUrl(realm))}`);
    }
    httpUrlOnly(realmUrl, `token request for ${registry}`, registry, 'its token realm');
    // Credentials go in headers, never in a URL a library might log.
    realmUrl.username = '';
    realmUrl.password = '';
    const service = challenge.params.service;
    let reply: TokenReply | undefined;
    if (cred?.kind === 'identity-token') reply = await this.oauthToken(registry, realmUrl, service, scopes, cred.token, signal);
    reply ??= await this.getToken(registry, realmUrl, service, scopes, cred?.kind === 'basic' ? cred : undefined, signal);
    this.used.add(reply.token);
    this.tokens.put(registry, scopes, reply.token, reply);
    return reply.token;
  }

  /** The OAuth2 refresh-token grant. Undefined when the realm has no such endpoint. */
  private async oauthToken(
    registry: string,
    realm: URL,
    service: string | undefined,
    scopes: string[],
    refreshToken: string,
    signal: AbortSignal | undefined,
  ): Promise<TokenReply | undefined> {
    const form = new URLSearchParams({ grant_type: 'refresh_token', client_id: CLIENT_ID, access_type: 'offline', refresh_token: refreshToken });
    if (service !== undefined) form.set('service', service);
    if (scopes.length > 0) form.set('scope', scopes.join(' '));
    const what = `token request to ${redactUrl(realm.origin + realm.pathname)} for ${registry}`;
    const res = await this.transport.send(
      {
        method: 'POST',
        url: realm,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
        ...(signal === undefined ? {} : { signal }),
      },
      { what, registry },
    );
    if (res.status === 404 || res.status === 405) {
      await discardBody(res);
      return undefined;
    }
    return this.readReply(res, what, registry);
  }

  private async getToken(
    registry: string,
    realm: URL,
    service: string | undefined,
    scopes: string[],
    basic: { username: string; password: string } | undefined,
    signal: AbortSignal | undefined,
  ): Promise<TokenReply> {
    const url = new URL(realm);
    if (service !== undefined) url.searchParams.set('service', service);
    for (const s of scopes) url.searchParams.append('scope', s);
    if (basic !== undefined) url.searchParams.set('account', basic.username);
    const what = `token request to ${redactUrl(realm.origin + realm.pathname)} for ${registry}`;
    const headers: Record<string, string> = {};
    if (basic !== undefined) headers.authorization = basicValue(basic.username, basic.password);
    const res = await this.transport.send(
      { method: 'GET', url, headers, ...(signal === undefined ? {} : { signal }) },
      { what, registry },
    );
    return this.readReply(res, what, registry);
  }

  private async readReply(
    res: Awaited<ReturnType<Transport['send']>>,
    what: string,
    registry: string,
  ): Promise<TokenReply> {
    if (res.status !== 200) throw statusError(what, registry, res.status, await readErrorBody(res.body));
    const ct = header(res.headers, 'content-type') ?? '';
    const text = (
      await readDocument(res, { what, registry }, MAX_TOKEN_RESPONSE, () =>
        new RegistryError('REGISTRY_PROTOCOL', `${what}: the token answer is larger than ${MAX_TOKEN_RESPONSE} bytes`, {
          hint: "the token service misbehaves; check the registry's auth configuration",
        }),
      )
    ).toString('utf8');
    const reply = parseTokenReply(text);
    if (reply === undefined) {
      throw new RegistryError('REGISTRY_PROTOCOL', `${what}: the answer (${ct || 'no content type'}) holds no token`);
    }
    return reply;
  }
}
