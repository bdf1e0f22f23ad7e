import { chmod, lstat, mkdir, readdir, readFile, stat, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultKeychain, login, logout } from '../../../../registry/keychain/index.js';
import { b64, installFakeHelper, memoryHelpers, useTempHome, writeJson, type TempHome } from './fixtures.js';

const tempHome = useTempHome();

async function readJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
}

function withDockerConfig(t: TempHome): { env: TempHome['env']; file: string } {
  return { env: { ...t.env, DOCKER_CONFIG: t.dockerConfigDir }, file: join(t.dockerConfigDir, 'config.json') };
}

describe('login without a helper', () => {
  it('writes auths[registry].auth into $DOCKER_CONFIG/config.json, 0600 in a 0700 dir', async () => {
    const t = await tempHome();
    const { env, file } = withDockerConfig(t);
    const result = await login({ env, homedir: t.home, registry: 'localhost:5000', username: 'me', password: 'p:w' });
    expect(result).toEqual({ file });
    expect(await readJson(file)).toEqual({ auths: { 'localhost:5000': { auth: b64('me:p:w') } } });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(t.dockerConfigDir)).mode & 0o777).toBe(0o700);
    expect(await defaultKeychain({ env, homedir: t.home }).resolve('localhost:5000')).toEqual({
      kind: 'basic',
      username: 'me',
      password: 'p:w',
    });
  });

  it('defaults to ~/.docker/config.json and stores Docker Hub under https://index.docker.io/v1/', async () => {
    const t = await tempHome();
    const result = await login({ env: t.env, homedir: t.home, registry: 'docker.io', username: 'me', password: 'pw' });
    const file = join(t.home, '.docker', 'config.json');
    expect(result.file).toBe(file);
    expect(await readJson(file)).toEqual({ auths: { 'https://index.docker.io/v1/': { auth: b64('me:pw') } } });
    expect(await defaultKeychain({ env: t.env, homedir: t.home }).resolve('index.docker.io')).toMatchObject({ username: 'me' });
  });

  it('keeps every other key and entry, and replaces older spellings of the same registry', async () => {
    const t = await tempHome();
    const { env, file } = withDockerConfig(t);
    await writeJson(file, {
      auths: {
        'ghcr.io': { auth: b64('gh:1') },
        'http://localhost:5000': { auth: b64('old:1') },
        'https://localhost:5000/v1/': { auth: b64('older:1') },
        'localhost:5000/team': { auth: b64('ns:1') },
      },
      proxies: { default: { httpProxy: 'http://proxy:3128' } },
      currentContext: 'ctx',
      experimental: 'enabled',
    });
    await login({ env, homedir: t.home, registry: 'http://localhost:5000', username: 'me', password: 'pw' });
    expect(await readJson(file)).toEqual({
      auths: {
        'ghcr.io': { auth: b64('gh:1') },
        'localhost:5000/team': { auth: b64('ns:1') },
        'localhost:5000': { auth: b64('me:pw') },
      },
      proxies: { default: { httpProxy: 'http://proxy:3128' } },
      currentContext: 'ctx',
      experimental: 'enabled',
    });
  });

  it('replaces the file atomically: a new inode, no temp file left, tab-indented like docker', async () => {
    const t = await tempHome();
    const { env, file } = withDockerConfig(t);
    await writeJson(file, { auths: {} });
    const before = await stat(file);
    await login({ env, homedir: t.home, registry: 'ghcr.io', username: 'me', password: 'pw' });
    expect((await stat(file)).ino).not.toBe(before.ino);
    expect(await readdir(t.dockerConfigDir)).toEqual(['config.json']);
    expect(await readFile(file, 'utf8')).toContain('\n\t"auths": {\n\t\t"ghcr.io"');
  });

  it('tightens an existing world-readable file to 0600', async () => {
    const t = await tempHome();
    const { env, file } = withDockerConfig(t);
    await writeJson(file, {});
    await chmod(file, 0o644);
    await login({ env, homedir: t.home, registry: 'ghcr.io', username: 'me', password: 'pw' });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('writes through a symlinked config.json, as docker does', async () => {
    const t = await tempHome();
    const { env, file } = withDockerConfig(t);
    const real = join(t.root, 'dotfiles', 'docker.json');
    await writeJson(real, { auths: {} });
    await mkdir(t.dockerConfigDir, { recursive: true });
    await symlink(real, file);
    await login({ env, homedir: t.home, registry: 'ghcr.io', username: 'me', password: 'pw' });
    expect((await lstat(file)).isSymbolicLink()).toBe(true);
    expect(await readJson(real)).toEqual({ auths: { 'ghcr.io': { auth: b64('me:pw') } } });
  });

  it('refuses to overwrite a malformed config.json', async () => {
    const t = await tempHome();
    const { env, file } = withDockerConfig(t);
    await writeJson(file, '{"auths": {"ghcr.io": ');
    await expect(login({ env, homedir: t.home, registry: 'ghcr.io', username: 'me', password: 'pw' })).rejects.toMatchObject({
      code: 'BAD_AUTH_FILE',
    });
    expect(await readFile(file, 'utf8')).toBe('{"auths": {"ghcr.io": ');
  });

  it.each([
    [{ registry: '', username: 'me', password: 'pw' }, 'no registry given'],
    [{ registry: 'ghcr.io', username: '', password: 'pw' }, 'the username is empty'],
    [{ registry: 'ghcr.io', username: 'a:b', password: 'pw' }, 'the username contains ":"'],
    [{ registry: 'ghcr.io', username: 'me', password: '' }, 'the password is empty'],
  ])('rejects bad input %j', async (input, message) => {
    const t = await tempHome();
    await expect(login({ env: t.env, homedir: t.home, ...input })).rejects.toMatchObject({ code: 'BAD_LOGIN', message });
  });
});

describe('login and logout with a credential helper', () => {
  it('stores through credsStore with a real helper and leaves only a marker in the file', async () => {
    const t = await tempHome();
    await installFakeHelper(t.binDir);
    const { env, file } = withDockerConfig(t);
    await writeJson(file, { credsStore: 'test', auths: { 'ghcr.io': { auth: b64('stale:plaintext') } } });
    const result = await login({ env, homedir: t.home, registry: 'ghcr.io', username: 'me', password: 'helper-secret' });
    expect(result).toEqual({ file, helper: 'test' });
    const text = await readFile(file, 'utf8');
    expect(JSON.parse(text)).toEqual({ credsStore: 'test', auths: { 'ghcr.io': {} } });
    expect(text).not.toContain('helper-secret');
    expect(text).not.toContain(b64('me:helper-secret'));
    const kc = defaultKeychain({ env, homedir: t.home });
    expect(await kc.resolve('ghcr.io')).toEqual({ kind: 'basic', username: 'me', password: 'helper-secret' });

    expect(await logout({ env, homedir: t.home, registry: 'ghcr.io' })).toEqual({ removed: true });
    expect(await readJson(file)).toEqual({ credsStore: 'test', auths: {} });
    expect(await kc.resolve('ghcr.io')).toBeUndefined();
    expect(await logout({ env, homedir: t.home, registry: 'ghcr.io' })).toEqual({ removed: false });
    const log = (await readFile(join(t.helperStateDir, 'calls.log'), 'utf8')).trim().split('\n');
    expect(log.map((l) => l.split(' ')[0])).toEqual(['store', 'get', 'erase', 'get', 'erase']);
  });

  it('uses credHelpers[registry] over credsStore, and Docker Hub as https://index.docker.io/v1/', async () => {
    const t = await tempHome();
    const { env, file } = withDockerConfig(t);
    await writeJson(file, { credsStore: 'store', credHelpers: { 'https://index.docker.io/v1/': 'hub' } });
    const helpers = { store: {}, hub: {} };
    const { runHelper, calls } = memoryHelpers(helpers);
    const result = await login({ env, homedir: t.home, runHelper, registry: 'docker.io', username: 'me', password: 'pw' });
    expect(result.helper).toBe('hub');
    expect(helpers.hub).toEqual({ 'https://index.docker.io/v1/': { Username: 'me', Secret: 'pw' } });
    expect(helpers.store).toEqual({});
    expect(await logout({ env, homedir: t.home, runHelper, registry: 'docker.io' })).toEqual({ removed: true });
    expect(calls.map((c) => `${c.helper} ${c.action}`)).toEqual(['hub store', 'hub erase']);
  });

  it('leaves the file untouched when the helper fails to store', async () => {
    const t = await tempHome();
    await installFakeHelper(t.binDir);
    const { env, file } = withDockerConfig(t);
    const original = JSON.stringify({ credsStore: 'test', auths: { 'quay.io': {} } });
    await writeJson(file, original);
    await expect(
      login({ env: { ...env, FAKE_HELPER_MODE: 'fail' }, homedir: t.home, registry: 'ghcr.io', username: 'me', password: 'pw-xyz' }),
    ).rejects.toMatchObject({ code: 'CREDENTIAL_HELPER_FAILED' });
    expect(await readFile(file, 'utf8')).toBe(original);
  });
});

describe('logout without a helper', () => {
  it('removes every spelling of the registry and keeps the rest', async () => {
    const t = await tempHome();
    const { env, file } = withDockerConfig(t);
    await writeJson(file, {
      auths: {
        'https://index.docker.io/v1/': { auth: b64('a:1') },
        'docker.io': { auth: b64('b:2') },
        'ghcr.io': { auth: b64('c:3') },
      },
      psFormat: 'table',
    });
    expect(await logout({ env, homedir: t.home, registry: 'docker.io' })).toEqual({ removed: true });
    expect(await readJson(file)).toEqual({ auths: { 'ghcr.io': { auth: b64('c:3') } }, psFormat: 'table' });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('reports nothing removed when there is no file or no entry, and does not create a file', async () => {
    const t = await tempHome();
    const { env, file } = withDockerConfig(t);
    expect(await logout({ env, homedir: t.home, registry: 'ghcr.io' })).toEqual({ removed: false });
    await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
    await writeJson(file, { auths: { 'quay.io': { auth: b64('q:1') } } });
    const before = await readFile(file, 'utf8');
    expect(await logout({ env, homedir: t.home, registry: 'ghcr.io' })).toEqual({ removed: false });
    expect(await readFile(file, 'utf8')).toBe(before);
  });

  it('round-trips: login, resolve, logout, resolve', async () => {
    const t = await tempHome();
    const kc = defaultKeychain({ env: t.env, homedir: t.home });
    await login({ env: t.env, homedir: t.home, registry: 'registry.example.com:8443', username: 'u', password: 'pw' });
    expect(await kc.resolve('registry.example.com:8443')).toEqual({ kind: 'basic', username: 'u', password: 'pw' });
    await login({ env: t.env, homedir: t.home, registry: 'registry.example.com:8443', username: 'u2', password: 'pw2' });
    expect(await kc.resolve('registry.example.com:8443')).toEqual({ kind: 'basic', username: 'u2', password: 'pw2' });
    expect(await logout({ env: t.env, homedir: t.home, registry: 'registry.example.com:8443' })).toEqual({ removed: true });
    expect(await kc.resolve('registry.example.com:8443')).toBeUndefined();
  });
});
