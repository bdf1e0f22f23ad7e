import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  anonymousKeychain,
  defaultKeychain,
  staticKeychain,
  type Credential,
} from '../../../../registry/keychain/index.js';
import { b64, memoryHelpers, useTempHome, writeJson, type TempHome } from './fixtures.js';

const tempHome = useTempHome();

const basic = (username: string, password: string): Credential => ({ kind: 'basic', username, password });

function paths(t: TempHome) {
  return {
    override: join(t.root, 'override', 'auth.json'),
    runtime: join(t.runtimeDir, 'containers', 'auth.json'),
    configHome: join(t.home, '.config', 'containers', 'auth.json'),
    docker: join(t.dockerConfigDir, 'config.json'),
    homeDocker: join(t.home, '.docker', 'config.json'),
    dockercfg: join(t.home, '.dockercfg'),
  };
}

describe('defaultKeychain: key forms', () => {
  it.each([
    ['ghcr.io', 'ghcr.io'],
    ['host:5000', 'host:5000'],
    ['https://host:5000/v1/', 'host:5000'],
    ['http://host:5000', 'host:5000'],
    ['https://registry.example.com/v2/', 'registry.example.com'],
    ['https://index.docker.io/v1/', 'docker.io'],
    ['docker.io', 'docker.io'],
    ['index.docker.io', 'docker.io'],
    ['registry-1.docker.io', 'docker.io'],
  ])('an auths key %s answers for %s', async (key, registry) => {
    const t = await tempHome();
    await writeJson(paths(t).homeDocker, { auths: { [key]: { auth: b64('me:pw') } } });
    const kc = defaultKeychain({ env: t.env, homedir: t.home });
    expect(await kc.resolve(registry)).toEqual(basic('me', 'pw'));
  });

  it('answers for every Docker Hub alias a caller may pass', async () => {
    const t = await tempHome();
    await writeJson(paths(t).homeDocker, { auths: { 'https://index.docker.io/v1/': { auth: b64('me:pw') } } });
    const kc = defaultKeychain({ env: t.env, homedir: t.home });
    for (const name of ['docker.io', 'index.docker.io', 'registry-1.docker.io']) {
      expect(await kc.resolve(name)).toEqual(basic('me', 'pw'));
    }
  });

  it('does not mix up hosts, ports or repository-namespace keys', async () => {
    const t = await tempHome();
    await writeJson(paths(t).homeDocker, {
      auths: { 'host:5000': { auth: b64('a:1') }, 'quay.io/team': { auth: b64('b:2') }, 'docker.io/library': { auth: b64('c:3') } },
    });
    const kc = defaultKeychain({ env: t.env, homedir: t.home });
    expect(await kc.resolve('host')).toBeUndefined();
    expect(await kc.resolve('host:5001')).toBeUndefined();
    expect(await kc.resolve('quay.io')).toBeUndefined();
    expect(await kc.resolve('docker.io')).toBeUndefined();
    expect(await kc.resolve('host:5000')).toEqual(basic('a', '1'));
  });

  it('prefers the exact key over another spelling in the same file', async () => {
    const t = await tempHome();
    await writeJson(paths(t).homeDocker, {
      auths: { 'http://ghcr.io': { auth: b64('old:1') }, 'ghcr.io': { auth: b64('new:2') } },
    });
    expect(await defaultKeychain({ env: t.env, homedir: t.home }).resolve('ghcr.io')).toEqual(basic('new', '2'));
  });

  it('returns identity and registry tokens', async () => {
    const t = await tempHome();
    await writeJson(paths(t).homeDocker, {
      auths: { a: { auth: b64('me:'), identitytoken: 'refresh-me' }, b: { registrytoken: 'bearer-me' } },
    });
    const kc = defaultKeychain({ env: t.env, homedir: t.home });
    expect(await kc.resolve('a')).toEqual({ kind: 'identity-token', token: 'refresh-me' });
    expect(await kc.resolve('b')).toEqual({ kind: 'registry-token', token: 'bearer-me' });
  });

  it('returns undefined when no file exists', async () => {
    const t = await tempHome();
    expect(await defaultKeychain({ env: t.env, homedir: t.home }).resolve('ghcr.io')).toBeUndefined();
  });

  it('fails on a malformed file it has to read, naming the file', async () => {
    const t = await tempHome();
    await writeJson(paths(t).homeDocker, '{"auths": {');
    await expect(defaultKeychain({ env: t.env, homedir: t.home }).resolve('ghcr.io')).rejects.toMatchObject({
      code: 'BAD_AUTH_FILE',
      message: expect.stringContaining(paths(t).homeDocker),
    });
  });
});

describe('defaultKeychain: file precedence', () => {
  async function everyFile(t: TempHome) {
    const p = paths(t);
    t.env['REGISTRY_AUTH_FILE'] = p.override;
    t.env['XDG_RUNTIME_DIR'] = t.runtimeDir;
    t.env['DOCKER_CONFIG'] = t.dockerConfigDir;
    const one = (user: string) => ({ auths: { 'ghcr.io': { auth: b64(`${user}:pw`) } } });
    await writeJson(p.override, one('override'));
    await writeJson(p.runtime, one('runtime'));
    await writeJson(p.configHome, one('confighome'));
    await writeJson(p.docker, one('docker'));
    await writeJson(p.dockercfg, { 'https://ghcr.io/v1/': { auth: b64('dockercfg:pw') } });
    return p;
  }

  it('reads REGISTRY_AUTH_FILE, XDG_RUNTIME_DIR, XDG_CONFIG_HOME, DOCKER_CONFIG, ~/.dockercfg in that order', async () => {
    const t = await tempHome();
    const p = await everyFile(t);
    const kc = defaultKeychain({ env: t.env, homedir: t.home });
    const who = async () => ((await kc.resolve('ghcr.io')) as { username: string } | undefined)?.username;
    expect(await who()).toBe('override');
    await writeJson(p.override, { auths: {} });
    expect(await who()).toBe('runtime');
    await writeJson(p.runtime, { auths: { 'ghcr.io': {} } });
    expect(await who()).toBe('confighome');
    await writeJson(p.configHome, { auths: { 'other.io': { auth: b64('x:y') } } });
    expect(await who()).toBe('docker');
    await writeJson(p.docker, {});
    expect(await who()).toBe('dockercfg');
    await writeJson(p.dockercfg, {});
    expect(await who()).toBeUndefined();
  });

  it('uses ~/.docker/config.json when DOCKER_CONFIG is unset, and XDG_CONFIG_HOME when set', async () => {
    const t = await tempHome();
    const p = paths(t);
    await writeJson(p.homeDocker, { auths: { 'ghcr.io': { auth: b64('home:pw') } } });
    await writeJson(join(t.root, 'xdg', 'containers', 'auth.json'), { auths: { 'ghcr.io': { auth: b64('xdg:pw') } } });
    expect(await defaultKeychain({ env: t.env, homedir: t.home }).resolve('ghcr.io')).toEqual(basic('home', 'pw'));
    const env = { ...t.env, XDG_CONFIG_HOME: join(t.root, 'xdg') };
    expect(await defaultKeychain({ env, homedir: t.home }).resolve('ghcr.io')).toEqual(basic('xdg', 'pw'));
  });

  it('does not read ~/.docker/config.json when DOCKER_CONFIG points elsewhere', async () => {
    const t = await tempHome();
    await writeJson(paths(t).homeDocker, { auths: { 'ghcr.io': { auth: b64('home:pw') } } });
    const env = { ...t.env, DOCKER_CONFIG: t.dockerConfigDir };
    expect(await defaultKeychain({ env, homedir: t.home }).resolve('ghcr.io')).toBeUndefined();
  });
});

describe('defaultKeychain: credential helpers', () => {
  it('asks credHelpers[registry] before credsStore, and the helper beats the auths entry', async () => {
    const t = await tempHome();
    await writeJson(paths(t).homeDocker, {
      credsStore: 'store',
      credHelpers: { 'ghcr.io': 'gh' },
      auths: { 'ghcr.io': { auth: b64('file:pw') }, 'quay.io': {} },
    });
    const { runHelper, calls } = memoryHelpers({
      gh: { 'ghcr.io': { Username: 'gh-user', Secret: 'gh-secret' } },
      store: { 'ghcr.io': { Username: 'store-user', Secret: 'x' }, 'quay.io': { Username: 'q', Secret: 'qs' } },
    });
    const kc = defaultKeychain({ env: t.env, homedir: t.home, runHelper });
    expect(await kc.resolve('ghcr.io')).toEqual(basic('gh-user', 'gh-secret'));
    expect(await kc.resolve('quay.io')).toEqual(basic('q', 'qs'));
    expect(calls.map((c) => `${c.helper} ${c.action} ${c.input}`)).toEqual(['gh get ghcr.io', 'store get quay.io']);
  });

  it('asks helpers about Docker Hub as https://index.docker.io/v1/', async () => {
    const t = await tempHome();
    await writeJson(paths(t).homeDocker, { credsStore: 'store' });
    const { runHelper, calls } = memoryHelpers({
      store: { 'https://index.docker.io/v1/': { Username: 'hub', Secret: 'hub-secret' } },
    });
    const kc = defaultKeychain({ env: t.env, homedir: t.home, runHelper });
    expect(await kc.resolve('index.docker.io')).toEqual(basic('hub', 'hub-secret'));
    expect(calls[0]?.input).toBe('https://index.docker.io/v1/');
  });

  it('reads Username <token> as an identity token', async () => {
    const t = await tempHome();
    await writeJson(paths(t).homeDocker, { credHelpers: { 'acr.io': 'acr' } });
    const { runHelper } = memoryHelpers({ acr: { 'acr.io': { Username: '<token>', Secret: 'refresh' } } });
    const kc = defaultKeychain({ env: t.env, homedir: t.home, runHelper });
    expect(await kc.resolve('acr.io')).toEqual({ kind: 'identity-token', token: 'refresh' });
  });

  it('treats an auths entry as a marker when a helper owns the registry (docker semantics)', async () => {
    const t = await tempHome();
    await writeJson(paths(t).homeDocker, { credsStore: 'store', auths: { 'ghcr.io': { auth: b64('file:pw') } } });
    const { runHelper } = memoryHelpers({ store: {} });
    expect(await defaultKeychain({ env: t.env, homedir: t.home, runHelper }).resolve('ghcr.io')).toBeUndefined();
  });

  it('goes on to the next file when a helper has nothing', async () => {
    const t = await tempHome();
    const p = paths(t);
    await writeJson(p.configHome, { credHelpers: { 'ghcr.io': 'gh' } });
    await writeJson(p.homeDocker, { auths: { 'ghcr.io': { auth: b64('docker:pw') } } });
    const { runHelper, calls } = memoryHelpers({ gh: {} });
    expect(await defaultKeychain({ env: t.env, homedir: t.home, runHelper }).resolve('ghcr.io')).toEqual(basic('docker', 'pw'));
    expect(calls).toHaveLength(1);
  });

  it('does not run a helper for a registry no file names', async () => {
    const t = await tempHome();
    await writeJson(paths(t).homeDocker, { credHelpers: { 'ghcr.io': 'gh' }, auths: { 'quay.io': { auth: b64('q:pw') } } });
    const { runHelper, calls } = memoryHelpers({ gh: {} });
    const kc = defaultKeychain({ env: t.env, homedir: t.home, runHelper });
    expect(await kc.resolve('quay.io')).toEqual(basic('q', 'pw'));
    expect(calls).toEqual([]);
  });

  it('fails with CREDENTIAL_HELPER_FAILED naming the helper when it cannot run', async () => {
    const t = await tempHome();
    await writeJson(paths(t).homeDocker, { credsStore: 'desktop' });
    const { runHelper } = memoryHelpers({});
    const err = await defaultKeychain({ env: t.env, homedir: t.home, runHelper }).resolve('ghcr.io').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CREDENTIAL_HELPER_FAILED' });
    expect((err as Error).message).toContain('docker-credential-desktop');
    expect((err as { hint: string }).hint).toContain(paths(t).homeDocker);
  });
});

describe('staticKeychain and anonymousKeychain', () => {
  it('answers from a fixed map keyed by any registry spelling', async () => {
    const kc = staticKeychain({
      'https://index.docker.io/v1/': basic('hub', 'pw'),
      'localhost:5000': { kind: 'registry-token', token: 't' },
    });
    expect(await kc.resolve('docker.io')).toEqual(basic('hub', 'pw'));
    expect(await kc.resolve('registry-1.docker.io')).toEqual(basic('hub', 'pw'));
    expect(await kc.resolve('localhost:5000')).toEqual({ kind: 'registry-token', token: 't' });
    expect(await kc.resolve('ghcr.io')).toBeUndefined();
  });

  it('hands out copies', async () => {
    const kc = staticKeychain({ 'ghcr.io': basic('u', 'p') });
    const first = (await kc.resolve('ghcr.io')) as { username: string };
    first.username = 'changed';
    expect(await kc.resolve('ghcr.io')).toEqual(basic('u', 'p'));
  });

  it('anonymous knows nobody', async () => {
    expect(await anonymousKeychain().resolve('docker.io')).toBeUndefined();
  });
});
