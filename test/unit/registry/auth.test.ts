import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { RegistryClient } from '../../../registry/client.js';
import type { RegistryError } from '../../../registry/errors.js';
import { staticKeychain, type Credential } from '../../../registry/keychain/index.js';
import { parseReference } from '../../../src/oci/index.js';
import { seedBlob, startFakeRegistry, type FakeRegistry } from './fake-registry.js';
import { startServer, type LocalServer } from './local-server.js';

const fast = { baseDelayMs: 5, maxDelayMs: 20 };
let reg: FakeRegistry;
let tokens: LocalServer;
let issued: Map<string, string>; // token -> scope string
let clients: RegistryClient[] = [];

function client(cred?: Credential, now?: () => number): RegistryClient {
  const c = new RegistryClient({
    keychain: staticKeychain(cred === undefined ? {} : { [reg.host]: cred }),
    retry: fast,
    ...(now ? { now } : {}),
  });
  clients.push(c);
  return c;
}

/** A registry demanding bearer tokens from `tokens`, granting what the token's scopes name. */
function requireBearer(): void {
  reg.hook = (req, res) => {
    const m = /^\/v2\/(.+?)\/(blobs|manifests|tags)\//.exec(req.url ?? '');
    const need = m === null ? '' : `repository:${m[1]}:pull`;
    const auth = req.headers.authorization ?? '';
    const granted = auth.startsWith('Bearer ') ? issued.get(auth.slice(7)) : undefined;
    if (granted !== undefined && (need === '' || granted.includes(need.replace(':pull', ':')))) return false;
    const scope = need === '' ? '' : `,scope="${need}"`;
    res
      .writeHead(401, { 'www-authenticate': `Bearer realm="${tokens.url}/token",service="fake"${scope}`, 'content-type': 'application/json' })
      .end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
    return true;
  };
}

beforeEach(async () => {
  reg = await startFakeRegistry();
  issued = new Map();
  let n = 0;
  tokens = await startServer((req, res, body) => {
    const url = new URL(req.url ?? '/', 'http://x');
    let scopes = url.searchParams.getAll('scope').join(' ');
    if (req.method === 'POST') {
      const form = new URLSearchParams(body.toString());
      if (form.get('refresh_token') !== 'refresh-me') return void res.writeHead(401).end();
      scopes = form.get('scope') ?? '';
      const t = `oauth-${++n}`;
      issued.set(t, scopes);
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: t, expires_in: 300 }));
    }
    const auth = req.headers.authorization;
    if (auth !== undefined && auth !== `Basic ${Buffer.from('bob:pw').toString('base64')}`) {
      return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}');
    }
    const t = `tok-${++n}`;
    issued.set(t, scopes);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: t, expires_in: 300, issued_at: new Date().toISOString() }));
  });
});
afterEach(async () => {
  for (const c of clients) await c.close();
  clients = [];
  await reg.close();
  await tokens.close();
});

describe('bearer auth', () => {
  test('anonymous: GET realm with service and scope, then the token is reused for the scope', async () => {
    requireBearer();
    const data = Buffer.from('x');
    seedBlob(reg, 'lib/app', data);
    const c = client();
    const repo = parseReference(`${reg.host}/lib/app`);
    reg.tags.set('lib/app', new Map([['v1', 'sha256:' + '0'.repeat(64)]]));
    expect(await c.listTags(repo)).toEqual(['v1']);
    expect(await c.blobExists(repo, ('sha256:' + '1'.repeat(64)) as `sha256:${string}`)).toBe(false);
    expect(tokens.requests).toHaveLength(1);
    const q = new URL(tokens.requests[0]?.url ?? '', 'http://x').searchParams;
    expect(q.get('service')).toBe('fake');
    expect(q.getAll('scope')).toEqual(['repository:lib/app:pull']);
    expect(tokens.requests[0]?.headers.authorization).toBeUndefined();
  });

  test('basic credentials are sent to the realm (with account=), never to the registry', async () => {
    requireBearer();
    const c = client({ kind: 'basic', username: 'bob', password: 'pw' });
    reg.tags.set('app', new Map([['a', 'x']]));
    await c.listTags(parseReference(`${reg.host}/app`));
    expect(tokens.requests[0]?.headers.authorization).toBe(`Basic ${Buffer.from('bob:pw').toString('base64')}`);
    expect(new URL(tokens.requests[0]?.url ?? '', 'http://x').searchParams.get('account')).toBe('bob');
    for (const r of reg.requests) expect(r.headers.authorization ?? '').not.toMatch(/^Basic/);
  });

  test('wrong credentials: REGISTRY_UNAUTHORIZED with a login hint and no secret in the message', async () => {
    requireBearer();
    const c = client({ kind: 'basic', username: 'bob', password: 'wrong-password' });
    const err = (await c.listTags(parseReference(`${reg.host}/app`)).catch((e: unknown) => e)) as RegistryError;
    expect(err.code).toBe('REGISTRY_UNAUTHORIZED');
    expect(err.status).toBe(401);
    expect(err.hint).toBe(`run hoist login ${reg.host} or check credentials`);
    expect(err.message).toMatch(/UNAUTHORIZED: bad credentials/);
    expect(JSON.stringify({ m: err.message, h: err.hint, s: err.stack })).not.toContain('wrong-password');
    expect(err.message).not.toContain(Buffer.from('bob:wrong-password').toString('base64'));
  });

  test('identity token: OAuth2 POST with grant_type=refresh_token and client_id=hoist', async () => {
    requireBearer();
    const c = client({ kind: 'identity-token', token: 'refresh-me' });
    reg.tags.set('app', new Map([['a', 'x']]));
    expect(await c.listTags(parseReference(`${reg.host}/app`))).toEqual(['a']);
    expect(tokens.requests).toHaveLength(1);
    const r = tokens.requests[0];
    expect(r?.method).toBe('POST');
    expect(r?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    const form = new URLSearchParams(r?.body.toString());
    expect(form.get('grant_type')).toBe('refresh_token');
    expect(form.get('client_id')).toBe('hoist');
    expect(form.get('service')).toBe('fake');
    expect(form.get('scope')).toBe('repository:app:pull');
  });

  test('a registry token is sent as is, without a token request', async () => {
    issued.set('given', 'repository:app:pull');
    requireBearer();
    const c = client({ kind: 'registry-token', token: 'given' });
    reg.tags.set('app', new Map([['a', 'x']]));
    expect(await c.listTags(parseReference(`${reg.host}/app`))).toEqual(['a']);
    expect(tokens.requests).toHaveLength(0);
  });

  test('an expired token is fetched again', async () => {
    requireBearer();
    let now = 1_000_000;
    const c = client(undefined, () => now);
    reg.tags.set('app', new Map([['a', 'x']]));
    const repo = parseReference(`${reg.host}/app`);
    await c.listTags(repo);
    await c.listTags(repo);
    expect(tokens.requests).toHaveLength(1);
    now += 300_000;
    await c.listTags(repo);
    expect(tokens.requests).toHaveLength(2);
  });

  test('a 401 with a wider scope is answered once with a new token', async () => {
    requireBearer();
    const inner = reg.hook;
    // The registry wants an extra scope the client does not know about.
    reg.hook = (req, res, body) => {
      const auth = req.headers.authorization ?? '';
      const granted = issued.get(auth.slice(7)) ?? '';
      if (req.url?.startsWith('/v2/app/tags') && !granted.includes('repository:extra:pull')) {
        res
          .writeHead(401, {
            'www-authenticate': `Bearer realm="${tokens.url}/token",service="fake",scope="repository:app:pull repository:extra:pull",error="insufficient_scope"`,
          })
          .end();
        return true;
      }
      return inner?.(req, res, body) ?? false;
    };
    const c = client();
    reg.tags.set('app', new Map([['a', 'x']]));
    expect(await c.listTags(parseReference(`${reg.host}/app`))).toEqual(['a']);
    expect(tokens.requests).toHaveLength(2);
    expect(new URL(tokens.requests[1]?.url ?? '', 'http://x').searchParams.getAll('scope')).toEqual([
      'repository:app:pull',
      'repository:extra:pull',
    ]);
  });
});

describe('basic auth', () => {
  test('a Basic challenge is answered with the credentials', async () => {
    const expected = `Basic ${Buffer.from('bob:pw').toString('base64')}`;
    reg.hook = (req, res) => {
      if (req.headers.authorization === expected) return false;
      res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end();
      return true;
    };
    reg.tags.set('app', new Map([['a', 'x']]));
    expect(await client({ kind: 'basic', username: 'bob', password: 'pw' }).listTags(parseReference(`${reg.host}/app`))).toEqual(['a']);
    const anon = (await client()
      .listTags(parseReference(`${reg.host}/app`))
      .catch((e: unknown) => e)) as RegistryError;
    expect(anon.code).toBe('REGISTRY_UNAUTHORIZED');
    expect(anon.hint).toMatch(/hoist login/);
  });
});
