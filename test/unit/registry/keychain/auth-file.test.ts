import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HoistError } from '../../../../src/errors.js';
import {
  authFileLocations,
  authKeysFor,
  dockerConfigPath,
  entryCredential,
  helperFor,
  parseAuthFile,
  readAuthFile,
} from '../../../../registry/keychain/auth-file.js';
import { b64, useTempHome, writeJson } from './fixtures.js';

const tempHome = useTempHome();

function parse(doc: unknown, legacy = false) {
  return parseAuthFile('/cfg/config.json', JSON.stringify(doc), legacy);
}

function thrown(fn: () => unknown): HoistError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(HoistError);
    return err as HoistError;
  }
  throw new Error('expected a throw');
}

describe('authFileLocations', () => {
  it('lists the override, containers files, docker config and .dockercfg in order', () => {
    const env = { REGISTRY_AUTH_FILE: '/x/auth.json', XDG_RUNTIME_DIR: '/run/user/1', XDG_CONFIG_HOME: '/cfg', DOCKER_CONFIG: '/dc' };
    expect(authFileLocations(env, '/home/u').map((l) => [l.source, l.path, l.legacyFormat])).toEqual([
      ['REGISTRY_AUTH_FILE', '/x/auth.json', false],
      ['XDG_RUNTIME_DIR', '/run/user/1/containers/auth.json', false],
      ['XDG_CONFIG_HOME', '/cfg/containers/auth.json', false],
      ['DOCKER_CONFIG', '/dc/config.json', false],
      ['dockercfg', '/home/u/.dockercfg', true],
    ]);
  });

  it('falls back to the home directory and skips unset or empty variables', () => {
    expect(authFileLocations({ REGISTRY_AUTH_FILE: '', DOCKER_CONFIG: '' }, '/home/u').map((l) => l.path)).toEqual([
      '/home/u/.config/containers/auth.json',
      '/home/u/.docker/config.json',
      '/home/u/.dockercfg',
    ]);
    expect(dockerConfigPath({}, '/home/u')).toBe('/home/u/.docker/config.json');
    expect(dockerConfigPath({ DOCKER_CONFIG: '/dc' }, '/home/u')).toBe('/dc/config.json');
  });
});

describe('entryCredential', () => {
  it('decodes auth as user:password, keeping colons in the password', () => {
    const file = parse({ auths: { 'ghcr.io': { auth: b64('me:pa:ss:word') } } });
    expect(entryCredential(file, 'ghcr.io')).toEqual({ kind: 'basic', username: 'me', password: 'pa:ss:word' });
  });

  it('accepts unpadded base64 and trims the newline `echo | base64` adds', () => {
    const file = parse({ auths: { a: { auth: b64('me:pw\n').replace(/=+$/, '') } } });
    expect(entryCredential(file, 'a')).toEqual({ kind: 'basic', username: 'me', password: 'pw' });
  });

  it('reads username and password fields when auth is absent', () => {
    const file = parse({ auths: { a: { username: 'me', password: 'pw' } } });
    expect(entryCredential(file, 'a')).toEqual({ kind: 'basic', username: 'me', password: 'pw' });
  });

  it('prefers registrytoken, then identitytoken, then auth', () => {
    const auth = b64('me:pw');
    const file = parse({
      auths: {
        r: { auth, identitytoken: 'idtok', registrytoken: 'regtok' },
        i: { auth, identitytoken: 'idtok' },
        b: { auth, identitytoken: '' },
      },
    });
    expect(entryCredential(file, 'r')).toEqual({ kind: 'registry-token', token: 'regtok' });
    expect(entryCredential(file, 'i')).toEqual({ kind: 'identity-token', token: 'idtok' });
    expect(entryCredential(file, 'b')).toEqual({ kind: 'basic', username: 'me', password: 'pw' });
  });

  it('treats an empty entry (a credential helper marker) as no credential', () => {
    const file = parse({ auths: { a: {}, b: { auth: '' }, c: { auth: b64(':') } } });
    expect(entryCredential(file, 'a')).toBeUndefined();
    expect(entryCredential(file, 'b')).toBeUndefined();
    expect(entryCredential(file, 'c')).toBeUndefined();
    expect(entryCredential(file, 'missing')).toBeUndefined();
  });

  it('rejects auth that is not base64 or has no colon, without quoting it', () => {
    const file = parse({ auths: { a: { auth: 'not base64!!' }, b: { auth: b64('nocolonsecret') } } });
    const e1 = thrown(() => entryCredential(file, 'a'));
    expect(e1.code).toBe('BAD_AUTH_FILE');
    expect(e1.message).toContain('/cfg/config.json');
    expect(e1.message).not.toContain('not base64!!');
    const e2 = thrown(() => entryCredential(file, 'b'));
    expect(e2.message).toContain('username:password');
    expect(`${e2.message} ${e2.hint}`).not.toContain('nocolonsecret');
    expect(`${e2.message} ${e2.hint}`).not.toContain(b64('nocolonsecret'));
  });
});

describe('authKeysFor and helperFor', () => {
  it('finds every spelling of a registry, exact spellings first', () => {
    const file = parse({
      auths: {
        'http://host:5000': {},
        'host:5000': {},
        'https://host:5000/v1/': {},
        'host:5000/team': {},
        other: {},
      },
    });
    expect(authKeysFor(file, 'host:5000')).toEqual(['host:5000', 'http://host:5000', 'https://host:5000/v1/']);
  });

  it('puts the docker login key first for Docker Hub', () => {
    const file = parse({
      auths: { 'registry-1.docker.io': {}, 'docker.io': {}, 'https://index.docker.io/v1/': {}, 'index.docker.io': {} },
    });
    expect(authKeysFor(file, 'docker.io')).toEqual([
      'https://index.docker.io/v1/',
      'docker.io',
      'registry-1.docker.io',
      'index.docker.io',
    ]);
  });

  it('picks credHelpers[registry] over credsStore', () => {
    const file = parse({ credsStore: 'store', credHelpers: { 'ghcr.io': 'gh', 'https://index.docker.io/v1/': 'hub', 'http://x:1': 'x' } });
    expect(helperFor(file, 'ghcr.io')).toBe('gh');
    expect(helperFor(file, 'docker.io')).toBe('hub');
    expect(helperFor(file, 'x:1')).toBe('x');
    expect(helperFor(file, 'quay.io')).toBe('store');
    expect(helperFor(parse({ credsStore: '' }), 'quay.io')).toBeUndefined();
    expect(helperFor(parse({ credHelpers: { 'docker.io': 'hub' } }), 'docker.io')).toBe('hub');
  });
});

describe('parseAuthFile', () => {
  it('treats an empty file as an empty config and strips a BOM', () => {
    expect(parseAuthFile('/f', '').auths).toEqual({});
    expect(parseAuthFile('/f', '\uFEFF{"auths":{"a":{}}}').auths).toEqual({ a: {} });
  });

  it('reads a legacy ~/.dockercfg whose top level is the auths map', () => {
    const file = parse({ 'https://index.docker.io/v1/': { auth: b64('u:p'), email: 'x@y' } }, true);
    expect(authKeysFor(file, 'docker.io')).toEqual(['https://index.docker.io/v1/']);
  });

  it('reports malformed JSON with file, line and column, never the text', () => {
    const text = '{\n  "auths": {\n    "ghcr.io": { "auth": "c2VjcmV0OnBhc3M=" \n  }\n';
    const err = thrown(() => parseAuthFile('/cfg/config.json', text));
    expect(err.code).toBe('BAD_AUTH_FILE');
    expect(err.message).toMatch(/^registry auth file \/cfg\/config\.json: it is not valid JSON/);
    expect(err.hint).toContain('/cfg/config.json');
    expect(`${err.message} ${err.hint} ${String(err.cause)}`).not.toContain('c2VjcmV0OnBhc3M=');
  });

  it.each([
    [[], 'the top level must be a JSON object'],
    [{ auths: [] }, '"auths" must be a JSON object'],
    [{ auths: { a: 'x' } }, '"auths"["a"] must be a JSON object'],
    [{ auths: { a: { auth: 5 } } }, '"auths"["a"].auth must be a string'],
    [{ credHelpers: 'x' }, '"credHelpers" must be a JSON object'],
    [{ credHelpers: { a: 5 } }, '"credHelpers"["a"] must be a string'],
    [{ credsStore: '../../bin/sh' }, 'not a valid helper name'],
  ])('rejects %j', (doc, problem) => {
    const err = thrown(() => parse(doc));
    expect(err.code).toBe('BAD_AUTH_FILE');
    expect(err.message).toContain(problem);
  });

  it('keeps keys it does not know', () => {
    const file = parse({ auths: {}, proxies: { default: { httpProxy: 'x' } }, psFormat: 'table' });
    expect(file.document).toEqual({ auths: {}, proxies: { default: { httpProxy: 'x' } }, psFormat: 'table' });
  });
});

describe('readAuthFile', () => {
  it('returns undefined for a missing file and BAD_AUTH_FILE for a directory', async () => {
    const t = await tempHome();
    expect(await readAuthFile({ path: join(t.root, 'nope.json'), legacyFormat: false })).toBeUndefined();
    expect(await readAuthFile({ path: join(t.root, 'nope', 'x.json'), legacyFormat: false })).toBeUndefined();
    await expect(readAuthFile({ path: t.home, legacyFormat: false })).rejects.toMatchObject({ code: 'BAD_AUTH_FILE' });
  });

  it('reads a file from disk', async () => {
    const t = await tempHome();
    const path = join(t.root, 'auth.json');
    await writeJson(path, { auths: { 'ghcr.io': { auth: b64('u:p') } } });
    const file = await readAuthFile({ path, legacyFormat: false });
    expect(file && entryCredential(file, 'ghcr.io')).toEqual({ kind: 'basic', username: 'u', password: 'p' });
  });
});
