/**
 * Whatever goes wrong, no error hoist raises may carry a credential: not in
 * its message, its hint, its stack or anything on its cause chain.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HoistError } from '../../../../src/errors.js';
import { defaultKeychain, login, type RunHelper } from '../../../../registry/keychain/index.js';
import { b64, installFakeHelper, useTempHome, writeJson } from './fixtures.js';

const tempHome = useTempHome();

const PASSWORD = 'Pa55w0rd-must-not-leak';
const TOKEN = 'tok-must-not-leak-0123';
const SECRETS = [PASSWORD, TOKEN, b64(`alice:${PASSWORD}`), b64(PASSWORD), JSON.stringify(PASSWORD)];

function everyText(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e !== undefined && e !== null && depth < 10; depth++) {
    if (e instanceof Error) {
      parts.push(e.message, e.stack ?? '', String(e));
      if (e instanceof HoistError) parts.push(e.hint ?? '', e.code);
      e = e.cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  return parts.join('\n');
}

async function failure(promise: Promise<unknown>): Promise<HoistError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HoistError);
  return err as HoistError;
}

function expectClean(err: HoistError): void {
  const text = everyText(err);
  for (const secret of SECRETS) expect(text).not.toContain(secret);
}

describe('errors never carry the secrets in play', () => {
  it('malformed JSON around a secret', async () => {
    const t = await tempHome();
    await writeJson(join(t.home, '.docker', 'config.json'), `{"auths": {"ghcr.io": {"auth": "${b64(`alice:${PASSWORD}`)}" "identitytoken": "${TOKEN}"}}}`);
    const err = await failure(defaultKeychain({ env: t.env, homedir: t.home }).resolve('ghcr.io'));
    expect(err.code).toBe('BAD_AUTH_FILE');
    expect(err.message).toMatch(/line 1, column \d+/);
    expectClean(err);
  });

  it('malformed JSON with the password near the error', async () => {
    const t = await tempHome();
    await writeJson(join(t.home, '.docker', 'config.json'), `{"auths": {"ghcr.io": {"password": ${PASSWORD}}}}`);
    expectClean(await failure(defaultKeychain({ env: t.env, homedir: t.home }).resolve('ghcr.io')));
  });

  it('auth without a colon and auth that is not base64', async () => {
    const t = await tempHome();
    const file = join(t.home, '.docker', 'config.json');
    await writeJson(file, { auths: { 'ghcr.io': { auth: b64(PASSWORD) } } });
    expectClean(await failure(defaultKeychain({ env: t.env, homedir: t.home }).resolve('ghcr.io')));
    await writeJson(file, { auths: { 'ghcr.io': { auth: `${PASSWORD}!` } } });
    expectClean(await failure(defaultKeychain({ env: t.env, homedir: t.home }).resolve('ghcr.io')));
  });

  it('a wrongly typed field next to secrets', async () => {
    const t = await tempHome();
    await writeJson(join(t.home, '.docker', 'config.json'), {
      auths: { 'ghcr.io': { auth: b64(`alice:${PASSWORD}`), identitytoken: 7, registrytoken: TOKEN } },
    });
    expectClean(await failure(defaultKeychain({ env: t.env, homedir: t.home }).resolve('ghcr.io')));
  });

  it('a real helper that echoes its stdin (the secret) when store fails', async () => {
    const t = await tempHome();
    await installFakeHelper(t.binDir);
    await writeJson(join(t.home, '.docker', 'config.json'), { credsStore: 'test' });
    const err = await failure(
      login({ env: { ...t.env, FAKE_HELPER_MODE: 'echo-input' }, homedir: t.home, registry: 'ghcr.io', username: 'alice', password: PASSWORD }),
    );
    expect(err.code).toBe('CREDENTIAL_HELPER_FAILED');
    expect(err.message).toContain('docker-credential-test');
    expectClean(err);
  });

  it('a helper whose get prints the secret but not as protocol JSON', async () => {
    const t = await tempHome();
    await writeJson(join(t.home, '.docker', 'config.json'), { credsStore: 'leaky' });
    const printsSecret: RunHelper = () => Promise.resolve({ code: 0, stdout: `user=alice secret=${PASSWORD}`, stderr: '' });
    expectClean(await failure(defaultKeychain({ env: t.env, homedir: t.home, runHelper: printsSecret }).resolve('ghcr.io')));
    const failsWithJson: RunHelper = () =>
      Promise.resolve({ code: 2, stdout: JSON.stringify({ Username: 'alice', Secret: PASSWORD }), stderr: '' });
    expectClean(await failure(defaultKeychain({ env: t.env, homedir: t.home, runHelper: failsWithJson }).resolve('ghcr.io')));
  });

  it('an injected runner that throws an error quoting its input', async () => {
    const t = await tempHome();
    await writeJson(join(t.home, '.docker', 'config.json'), { credsStore: 'thrower' });
    const thrower: RunHelper = (_h, _a, input) => Promise.reject(new Error(`cannot handle ${input}`));
    const err = await failure(login({ env: t.env, homedir: t.home, runHelper: thrower, registry: 'ghcr.io', username: 'alice', password: PASSWORD }));
    expect(err.code).toBe('CREDENTIAL_HELPER_FAILED');
    expectClean(err);
  });

  it('bad login input', async () => {
    const t = await tempHome();
    expectClean(await failure(login({ env: t.env, homedir: t.home, registry: 'ghcr.io', username: `alice:${PASSWORD}`, password: PASSWORD })));
    await writeJson(join(t.home, '.docker', 'config.json'), `{"auths": {"x": {"auth": "${b64(`alice:${PASSWORD}`)}"`);
    expectClean(await failure(login({ env: t.env, homedir: t.home, registry: 'ghcr.io', username: 'alice', password: PASSWORD })));
  });
});
