import { readFile, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultKeychain } from '../../../../registry/keychain/index.js';
import {
  findOnPath,
  helperErase,
  helperGet,
  helperStore,
  processRunHelper,
  sanitizeHelperOutput,
} from '../../../../registry/keychain/cred-helper.js';
import { installFakeHelper, useTempHome, writeJson } from './fixtures.js';

const tempHome = useTempHome();
const ctx = { helper: 'test', configuredIn: '/cfg/config.json' };

async function calls(stateDir: string): Promise<string[]> {
  return (await readFile(join(stateDir, 'calls.log'), 'utf8')).trim().split('\n');
}

describe('processRunHelper with a real docker-credential-test', () => {
  it('stores, gets and erases through the protocol', async () => {
    const t = await tempHome();
    await installFakeHelper(t.binDir);
    const run = processRunHelper(t.env);
    await helperStore(run, ctx, 'ghcr.io', 'me', 'pa:ss "word"');
    expect(await helperGet(run, ctx, 'ghcr.io')).toEqual({ kind: 'basic', username: 'me', password: 'pa:ss "word"' });
    expect(await helperGet(run, ctx, 'quay.io')).toBeUndefined();
    expect(await helperErase(run, ctx, 'ghcr.io')).toBe(true);
    expect(await helperErase(run, ctx, 'ghcr.io')).toBe(false);
    expect(await helperGet(run, ctx, 'ghcr.io')).toBeUndefined();
    const log = await calls(t.helperStateDir);
    expect(log[0]).toBe('store {"ServerURL":"ghcr.io","Username":"me","Secret":"pa:ss \\"word\\""}');
    expect(log.slice(1)).toEqual(['get ghcr.io', 'get quay.io', 'erase ghcr.io', 'erase ghcr.io', 'get ghcr.io']);
  });

  it('reads an identity token stored under Username <token>', async () => {
    const t = await tempHome();
    await installFakeHelper(t.binDir);
    const run = processRunHelper(t.env);
    await helperStore(run, ctx, 'https://index.docker.io/v1/', '<token>', 'refresh-token-1');
    expect(await helperGet(run, ctx, 'https://index.docker.io/v1/')).toEqual({ kind: 'identity-token', token: 'refresh-token-1' });
  });

  it('finds the helper on the PATH given in env, not the process PATH', async () => {
    const t = await tempHome();
    await installFakeHelper(t.binDir);
    await writeJson(join(t.home, '.docker', 'config.json'), { credsStore: 'test' });
    await helperStore(processRunHelper(t.env), ctx, 'ghcr.io', 'me', 'secret-1');
    const kc = defaultKeychain({ env: t.env, homedir: t.home });
    expect(await kc.resolve('ghcr.io')).toEqual({ kind: 'basic', username: 'me', password: 'secret-1' });
    const noPath = defaultKeychain({ env: { ...t.env, PATH: '/usr/bin:/bin' }, homedir: t.home });
    await expect(noPath.resolve('ghcr.io')).rejects.toMatchObject({
      code: 'CREDENTIAL_HELPER_FAILED',
      message: expect.stringContaining('docker-credential-test was not found on PATH'),
    });
  });

  it('reports a failing helper with its exit status and message', async () => {
    const t = await tempHome();
    await installFakeHelper(t.binDir);
    const run = processRunHelper({ ...t.env, FAKE_HELPER_MODE: 'fail' });
    const err = await helperGet(run, ctx, 'ghcr.io').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CREDENTIAL_HELPER_FAILED' });
    expect((err as Error).message).toBe('credential helper docker-credential-test get: exited with status 3: the keychain is locked');
    expect((err as { hint: string }).hint).toContain('/cfg/config.json');
    await expect(helperErase(run, ctx, 'ghcr.io')).rejects.toMatchObject({ code: 'CREDENTIAL_HELPER_FAILED' });
    await expect(helperStore(run, ctx, 'ghcr.io', 'u', 'secret-2')).rejects.toMatchObject({ code: 'CREDENTIAL_HELPER_FAILED' });
  });

  it('rejects output that is not the protocol JSON without quoting it', async () => {
    const t = await tempHome();
    await installFakeHelper(t.binDir);
    const run = processRunHelper({ ...t.env, FAKE_HELPER_MODE: 'garbage' });
    const err = (await helperGet(run, ctx, 'ghcr.io').catch((e: unknown) => e)) as Error;
    expect(err).toMatchObject({ code: 'CREDENTIAL_HELPER_FAILED' });
    expect(err.message).not.toContain('this is not json');
  });

  it('does not run a helper that is not executable or a relative PATH entry', async () => {
    const t = await tempHome();
    const path = await installFakeHelper(t.binDir);
    await chmod(path, 0o644);
    expect(await findOnPath('docker-credential-test', t.env['PATH'])).toBeUndefined();
    await chmod(path, 0o755);
    expect(await findOnPath('docker-credential-test', `bin:${t.binDir}`)).toBe(path);
    expect(await findOnPath('docker-credential-test', undefined)).toBeUndefined();
  });

  it('passes env to the helper as its whole environment', async () => {
    const t = await tempHome();
    const path = join(t.binDir, 'docker-credential-envdump');
    await writeFile(path, '#!/bin/sh\ncat >/dev/null\nprintf \'{"Username":"%s","Secret":"%s"}\' "$HELPER_USER" "${HOME:-unset}"\n');
    await chmod(path, 0o755);
    const run = processRunHelper({ ...t.env, HELPER_USER: 'from-env' });
    expect(await helperGet(run, { helper: 'envdump', configuredIn: 'x' }, 'ghcr.io')).toEqual({
      kind: 'basic',
      username: 'from-env',
      password: 'unset',
    });
  });

  it('refuses a helper name that is not a plain name', async () => {
    const run = processRunHelper({ PATH: '/usr/bin:/bin' });
    await expect(run('../x', 'get', 'ghcr.io')).rejects.toThrow('not a valid helper name');
  });
});

describe('helperGet edge cases (injected runner)', () => {
  it('treats an empty Secret as no credential and a non-string Secret as a failure', async () => {
    const ok = (stdout: string) => () => Promise.resolve({ code: 0, stdout, stderr: '' });
    expect(await helperGet(ok('{"Username":"","Secret":""}'), ctx, 'a')).toBeUndefined();
    await expect(helperGet(ok('{"Username":"u","Secret":5}'), ctx, 'a')).rejects.toMatchObject({ code: 'CREDENTIAL_HELPER_FAILED' });
    await expect(helperGet(ok('null'), ctx, 'a')).rejects.toMatchObject({ code: 'CREDENTIAL_HELPER_FAILED' });
  });

  it('recognises "credentials not found" on stderr too', async () => {
    const run = () => Promise.resolve({ code: 1, stdout: '', stderr: 'error: credentials not found' });
    expect(await helperGet(run, ctx, 'a')).toBeUndefined();
    expect(await helperErase(run, ctx, 'a')).toBe(false);
  });
});

describe('sanitizeHelperOutput', () => {
  it('cuts known secrets and their encodings out', () => {
    expect(sanitizeHelperOutput('bad input s3cr3t "s3\\"cr" czNjcjN0', ['s3cr3t', 's3"cr'])).toBe('bad input *** "***" ***');
  });

  it('withholds output it cannot clean', () => {
    expect(sanitizeHelperOutput('{"Secret":"x"}', [])).toBeUndefined();
    expect(sanitizeHelperOutput('short pw ab', ['ab'])).toBeUndefined();
    expect(sanitizeHelperOutput('   ', [])).toBeUndefined();
  });

  it('keeps three lines and 200 characters at most', () => {
    expect(sanitizeHelperOutput('a\nb\nc\nd', [])).toBe('a | b | c');
    expect(sanitizeHelperOutput('x'.repeat(500), [])?.length).toBe(201);
  });
});
