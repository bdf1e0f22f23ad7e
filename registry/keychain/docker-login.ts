/**
 * `docker login` / `docker logout` against docker's config.json, as
 * docker/cli's configfile does it:
 *
 * - the key is the registry host, except Docker Hub, which is stored under
 *   https://index.docker.io/v1/;
 * - when a credential helper owns the registry (credHelpers, then
 *   credsStore) the secret goes to the helper and the file keeps only an
 *   empty `{}` marker entry;
 * - otherwise the entry is {"auth": base64("user:password")};
 * - every other key of the file is kept; the file is replaced atomically
 *   (temp file + rename), created 0600 in a 0700 directory, and a symlinked
 *   config.json is written through to its target.
 *
 * Unlike docker, login also drops older spellings of the same registry
 * (`http://host`, `https://host/v1/`...) so that a stale secret can neither
 * shadow the new one nor linger in the file; logout removes all of them, as
 * docker logout tries each.
 */
import { realpath } from 'node:fs/promises';
import { dirname } from 'node:path';
import { HoistError } from '../../src/errors.js';
import { ensureDirectory } from '../../src/fs-errors.js';
import { writeFileAtomic } from '../../src/oci/atomic-file.js';
import { authKeysFor, dockerConfigPath, helperFor, readAuthFile, type AuthFile } from './auth-file.js';
import { helperErase, helperStore, processRunHelper } from './cred-helper.js';
import { canonicalRegistry, dockerServerUrl } from './registry-name.js';
import type { KeychainOptions } from './types.js';

export interface LoginOptions extends KeychainOptions {
  registry: string;
  username: string;
  password: string;
  /**
   * Asks the registry whether it accepts the credential (`registry` is the
   * canonical host, e.g. docker.io); throws if not. Called before anything
   * is stored, so a wrong password or an unreachable registry stores nothing.
   */
  verify?: (registry: string, credential: { kind: 'basic'; username: string; password: string }) => Promise<void>;
}

export interface LogoutOptions extends KeychainOptions {
  registry: string;
}

function badLogin(problem: string, hint: string): HoistError {
  return new HoistError('BAD_LOGIN', problem, { hint });
}

function registryOf(name: string): string {
  const registry = canonicalRegistry(name);
  if (registry === '') throw badLogin('no registry given', 'name a registry host such as docker.io, ghcr.io or localhost:5000');
  return registry;
}

/** config.json's real path: docker writes through a symlink rather than replacing it. */
async function writeTarget(file: string): Promise<string> {
  try {
    return await realpath(file);
  } catch {
    return file;
  }
}

async function saveConfig(path: string, document: Record<string, unknown>): Promise<void> {
  await ensureDirectory(dirname(path), 'the docker config directory', 0o700);
  // docker indents config.json with tabs.
  await writeFileAtomic(path, Buffer.from(`${JSON.stringify(document, null, '\t')}\n`), 0o600);
}

function authsOf(file: AuthFile | undefined, document: Record<string, unknown>): Record<string, unknown> {
  const existing = file?.auths;
  if (existing !== undefined && document['auths'] === existing) return existing;
  const auths: Record<string, unknown> = {};
  document['auths'] = auths;
  return auths;
}

/** Save a username and password for `registry` the way `docker login` does. */
export async function login(opts: LoginOptions): Promise<{ file: string; helper?: string }> {
  const registry = registryOf(opts.registry);
  if (opts.username === '') throw badLogin('the username is empty', 'give the registry username');
  if (opts.username.includes(':')) {
    throw badLogin('the username contains ":"', 'docker stores "username:password" in one field, so a username cannot hold ":"');
  }
  if (opts.password === '') throw badLogin('the password is empty', 'give the password or access token');
  await opts.verify?.(registry, { kind: 'basic', username: opts.username, password: opts.password });

  const file = dockerConfigPath(opts.env, opts.homedir);
  const target = await writeTarget(file);
  const existing = await readAuthFile({ path: target, legacyFormat: false });
  const document = existing?.document ?? {};
  const auths = authsOf(existing, document);
  const key = dockerServerUrl(registry);
  const helper = existing === undefined ? undefined : helperFor(existing, registry);

  if (existing !== undefined) for (const old of authKeysFor(existing, registry)) if (old !== key) delete auths[old];
  if (helper !== undefined) {
    const runHelper = opts.runHelper ?? processRunHelper(opts.env);
    await helperStore(runHelper, { helper, configuredIn: file }, key, opts.username, opts.password);
    auths[key] = {};
  } else {
    auths[key] = { auth: Buffer.from(`${opts.username}:${opts.password}`, 'utf8').toString('base64') };
  }
  await saveConfig(target, document);
  return helper === undefined ? { file } : { file, helper };
}

/** Forget `registry`'s credential the way `docker logout` does. */
export async function logout(opts: LogoutOptions): Promise<{ removed: boolean }> {
  const registry = registryOf(opts.registry);
  const file = dockerConfigPath(opts.env, opts.homedir);
  const target = await writeTarget(file);
  const existing = await readAuthFile({ path: target, legacyFormat: false });
  if (existing === undefined) return { removed: false };

  let erased = false;
  const helper = helperFor(existing, registry);
  if (helper !== undefined) {
    const runHelper = opts.runHelper ?? processRunHelper(opts.env);
    erased = await helperErase(runHelper, { helper, configuredIn: file }, dockerServerUrl(registry));
  }
  const keys = authKeysFor(existing, registry);
  if (keys.length > 0) {
    const auths = authsOf(existing, existing.document);
    for (const key of keys) delete auths[key];
    await saveConfig(target, existing.document);
  }
  return { removed: erased || keys.length > 0 };
}
