import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEDIA, basicAuth, fetchToken, pushTestImage, startRegistry, type RunningRegistry } from '../../helpers/registry/index.js';
import { decodeJwt, header, http, parseChallenge } from './util.js';

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('token-auth registry', () => {
  let reg: RunningRegistry;
  let pushed: Awaited<ReturnType<typeof pushTestImage>>;
  beforeAll(async () => {
    reg = await startRegistry({ auth: 'token' });
    pushed = await pushTestImage(reg, 'tok/app', 'v1');
  });
  afterAll(async () => {
    await reg?.stop();
  });

  it('exposes realm, service, issuer and credentials', () => {
    expect(reg.url.startsWith('http://')).toBe(true);
    expect(reg.tokenRealm).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/token$/);
    expect(reg.tokenService).toBe('hoist-test-registry');
    expect(reg.tokenIssuer).toBe('hoist-test-token-issuer');
    expect(reg.username).toBe('hoist-user');
    expect(reg.password).toBeTruthy();
  });

  it('401 challenges: /v2/ names realm and service; a repository request adds its scope', async () => {
    const ping = await http(`${reg.url}/v2/`);
    expect(ping.status).toBe(401);
    expect(header(ping, 'www-authenticate')).toBe(`Bearer realm="${reg.tokenRealm}",service="hoist-test-registry"`);

    const m = await http(`${reg.url}/v2/tok/app/manifests/v1`);
    expect(m.status).toBe(401);
    expect(header(m, 'www-authenticate')).toBe(
      `Bearer realm="${reg.tokenRealm}",service="hoist-test-registry",scope="repository:tok/app:pull"`,
    );
    expect(JSON.parse(m.body.toString('utf8'))).toMatchObject({ errors: [{ code: 'UNAUTHORIZED' }] });

    const post = await http(`${reg.url}/v2/tok/app/blobs/uploads/`, { method: 'POST' });
    expect(post.status).toBe(401);
    // The registry lists the actions from a Go map: their order varies between runs.
    const scope = parseChallenge(header(post, 'www-authenticate')!).params.scope ?? '';
    expect(scope.startsWith('repository:tok/app:')).toBe(true);
    expect(scope.slice('repository:tok/app:'.length).split(',').sort()).toEqual(['pull', 'push']);
  });

  it('the client flow: challenge -> token from the realm -> retry succeeds', async () => {
    reg.resetTokenRequests!();
    const first = await http(`${reg.url}/v2/tok/app/manifests/v1`, { headers: { accept: MEDIA.ociManifest } });
    const { scheme, params } = parseChallenge(header(first, 'www-authenticate')!);
    expect(scheme).toBe('Bearer');
    const u = new URL(params.realm!);
    u.searchParams.set('service', params.service!);
    u.searchParams.set('scope', params.scope!);
    u.searchParams.set('account', reg.username!);
    const t = await http(u.toString(), { headers: { authorization: basicAuth({ username: reg.username!, password: reg.password! }) } });
    expect(t.status).toBe(200);
    const body = JSON.parse(t.body.toString('utf8')) as { token: string; access_token: string; expires_in: number; issued_at: string };
    expect(body.access_token).toBe(body.token);
    expect(body.expires_in).toBe(300);

    const jwt = decodeJwt(body.token);
    expect(jwt.header).toMatchObject({ alg: 'RS256', typ: 'JWT' });
    expect(jwt.header.x5c).toHaveLength(1);
    expect(jwt.claims).toMatchObject({
      iss: 'hoist-test-token-issuer',
      aud: 'hoist-test-registry',
      sub: reg.username,
      access: [{ type: 'repository', name: 'tok/app', actions: ['pull'] }],
    });

    const again = await http(`${reg.url}/v2/tok/app/manifests/v1`, { headers: { accept: MEDIA.ociManifest, authorization: `Bearer ${body.token}` } });
    expect(again.status).toBe(200);
    expect(sha(again.body)).toBe(pushed.manifestDigest);

    const seen = reg.tokenRequests!();
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      method: 'GET',
      scope: ['repository:tok/app:pull'],
      account: reg.username,
      service: 'hoist-test-registry',
      status: 200,
      subject: reg.username,
    });
    expect(seen[0]!.authorization).toMatch(/^Basic /);
  });

  it('a wrong password gets 401 from the token server', async () => {
    reg.resetTokenRequests!();
    const u = `${reg.tokenRealm}?service=hoist-test-registry&scope=repository:tok/app:pull`;
    const r = await http(u, { headers: { authorization: basicAuth({ username: reg.username!, password: 'wrong' }) } });
    expect(r.status).toBe(401);
    expect(JSON.parse(r.body.toString('utf8'))).toMatchObject({ errors: [{ code: 'UNAUTHORIZED' }] });
    expect(reg.tokenRequests!()[0]).toMatchObject({ status: 401, granted: [] });
    await expect(fetchToken(reg, ['repository:tok/app:pull'], { username: reg.username!, password: 'wrong' })).rejects.toThrow(/401/);
  });

  it('anonymous without allowAnonymousPull: a token granting nothing, which the registry refuses', async () => {
    const token = await fetchToken(reg, ['repository:tok/app:pull'], null);
    expect(decodeJwt(token).claims.access).toEqual([]);
    const r = await http(`${reg.url}/v2/tok/app/manifests/v1`, { headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(401);
    expect(header(r, 'www-authenticate')).toContain('error="insufficient_scope"');
  });

  it('a pull-only token cannot push (401 insufficient_scope with the pull,push scope)', async () => {
    const token = await fetchToken(reg, ['repository:tok/app:pull']);
    const r = await http(`${reg.url}/v2/tok/app/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(401);
    expect(header(r, 'www-authenticate')).toMatch(
      new RegExp(`^Bearer realm="${reg.tokenRealm}",service="hoist-test-registry",scope="repository:tok/app:(pull,push|push,pull)",error="insufficient_scope"$`),
    );
    const pushToken = await fetchToken(reg, ['repository:tok/app:pull,push']);
    const ok = await http(`${reg.url}/v2/tok/app/blobs/uploads/`, { method: 'POST', headers: { authorization: `Bearer ${pushToken}` } });
    expect(ok.status).toBe(202);
  });

  it('several scope parameters (cross-repo mount) are all granted', async () => {
    reg.resetTokenRequests!();
    const token = await fetchToken(reg, ['repository:tok/app:pull', 'repository:tok/other:pull,push']);
    expect(decodeJwt(token).claims.access).toEqual([
      { type: 'repository', name: 'tok/app', actions: ['pull'] },
      { type: 'repository', name: 'tok/other', actions: ['pull', 'push'] },
    ]);
    expect(reg.tokenRequests!()[0]!.scope).toEqual(['repository:tok/app:pull', 'repository:tok/other:pull,push']);
    const digest = pushed.layers[0]!.digest;
    const mount = await http(`${reg.url}/v2/tok/other/blobs/uploads/?mount=${digest}&from=tok/app`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(mount.status).toBe(201);
    expect(header(mount, 'location')).toBe(`${reg.url}/v2/tok/other/blobs/${digest}`);
  });

  it('offline_token=true returns a refresh token that the OAuth2 POST endpoint accepts', async () => {
    const u = `${reg.tokenRealm}?service=hoist-test-registry&scope=repository:tok/app:pull&offline_token=true&client_id=hoist`;
    const r = await http(u, { headers: { authorization: basicAuth({ username: reg.username!, password: reg.password! }) } });
    const body = JSON.parse(r.body.toString('utf8')) as { refresh_token?: string };
    expect(body.refresh_token).toBeTruthy();
    const form = new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: body.refresh_token!,
      service: 'hoist-test-registry',
      scope: 'repository:tok/app:pull',
      client_id: 'hoist',
    });
    const p = await http(reg.tokenRealm!, { method: 'POST', body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(p.status).toBe(200);
    const pbody = JSON.parse(p.body.toString('utf8')) as { access_token: string; refresh_token: string; scope: string };
    expect(pbody.scope).toBe('repository:tok/app:pull');
    const ok = await http(`${reg.url}/v2/tok/app/manifests/v1`, { headers: { accept: MEDIA.ociManifest, authorization: `Bearer ${pbody.access_token}` } });
    expect(ok.status).toBe(200);

    const bad = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'nope', service: 'hoist-test-registry' });
    const pb = await http(reg.tokenRealm!, { method: 'POST', body: bad.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(pb.status).toBe(401);
  });

  it('an account that does not match the credentials is refused', async () => {
    const u = `${reg.tokenRealm}?service=hoist-test-registry&scope=repository:tok/app:pull&account=mallory`;
    const r = await http(u, { headers: { authorization: basicAuth({ username: reg.username!, password: reg.password! }) } });
    expect(r.status).toBe(401);
  });
});

describe('token-auth registry with TLS and anonymous pull', () => {
  let reg: RunningRegistry;
  beforeAll(async () => {
    reg = await startRegistry({ auth: 'token', tls: true, allowAnonymousPull: true, username: 'bob', password: 'builder' });
  });
  afterAll(async () => {
    await reg?.stop();
  });

  it('serves HTTPS, and so does the realm (same CA)', async () => {
    expect(reg.url.startsWith('https://')).toBe(true);
    expect(reg.tokenRealm!.startsWith('https://127.0.0.1:')).toBe(true);
    const ping = await http(`${reg.url}/v2/`, { dispatcher: reg.dispatcher });
    expect(header(ping, 'www-authenticate')).toBe(`Bearer realm="${reg.tokenRealm}",service="hoist-test-registry"`);
  });

  it('anonymous requests get pull-only tokens: pull works, push does not', async () => {
    const pushed = await pushTestImage(reg, 'pub/img', 'latest');
    reg.resetTokenRequests!();
    const token = await fetchToken(reg, ['repository:pub/img:pull,push'], null);
    expect(decodeJwt(token).claims).toMatchObject({ sub: '', access: [{ type: 'repository', name: 'pub/img', actions: ['pull'] }] });
    expect(reg.tokenRequests!()[0]!.authorization).toBeUndefined();
    const m = await http(`${reg.url}/v2/pub/img/manifests/latest`, {
      dispatcher: reg.dispatcher,
      headers: { accept: MEDIA.ociManifest, authorization: `Bearer ${token}` },
    });
    expect(m.status).toBe(200);
    expect(sha(m.body)).toBe(pushed.manifestDigest);
    const post = await http(`${reg.url}/v2/pub/img/blobs/uploads/`, { method: 'POST', dispatcher: reg.dispatcher, headers: { authorization: `Bearer ${token}` } });
    expect(post.status).toBe(401);
    expect(header(post, 'www-authenticate')).toContain('error="insufficient_scope"');
  });
});
