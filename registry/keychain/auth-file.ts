/**
 * Auth files: where they are, how they parse, and what one says about a
 * registry. Two formats share one shape: docker's config.json and
 * containers' auth.json (`auths`, `credHelpers`, `credsStore`); the legacy
 * ~/.dockercfg is a bare `auths` map.
 *
 * Search order (first file that yields a credential wins):
 *
 *   1. $REGISTRY_AUTH_FILE                        containers auth.json format
 *   2. $XDG_RUNTIME_DIR/containers/auth.json      podman/skopeo/buildah login's primary file
 *   3. $XDG_CONFIG_HOME/containers/auth.json      (default ~/.config/containers/auth.json)
 *   4. $DOCKER_CONFIG/config.json                 (default ~/.docker/config.json)
 *   5. ~/.dockercfg                               legacy docker format
 *
 * This is containers-auth.json(5)'s documented order ("first reading the
 * primary (read/write) file, or the explicit override ... If credentials are
 * not present there, the search continues in ${XDG_CONFIG_HOME}/containers/
 * auth.json, $HOME/.docker/config.json, $HOME/.dockercfg"), which is what
 * podman and skopeo do, with REGISTRY_AUTH_FILE as that explicit override.
 * We put the override in front of the primary file instead of in its place,
 * so setting it never hides a `podman login`. Docker itself reads only (4),
 * falling back to (5) when (4) does not exist; (4) honours DOCKER_CONFIG as
 * docker/cli's config.Dir() does.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HoistError } from '../../src/errors.js';
import { isValidHelperName } from './cred-helper.js';
import { authKeyRegistry, dockerServerUrl } from './registry-name.js';
import type { Credential } from './types.js';

export type AuthFileSource = 'REGISTRY_AUTH_FILE' | 'XDG_RUNTIME_DIR' | 'XDG_CONFIG_HOME' | 'DOCKER_CONFIG' | 'dockercfg';

export interface AuthFileLocation {
  path: string;
  source: AuthFileSource;
  /** ~/.dockercfg: the whole file is the `auths` map, keys are hosts or URLs. */
  legacyFormat: boolean;
}

type Env = Readonly<Record<string, string | undefined>>;

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** Where `docker login` reads and writes: $DOCKER_CONFIG/config.json or ~/.docker/config.json. */
export function dockerConfigPath(env: Env, homedir: string): string {
  const dir = nonEmpty(env['DOCKER_CONFIG']) ?? join(homedir, '.docker');
  return join(dir, 'config.json');
}

export function authFileLocations(env: Env, homedir: string): AuthFileLocation[] {
  const locations: AuthFileLocation[] = [];
  const explicit = nonEmpty(env['REGISTRY_AUTH_FILE']);
  if (explicit !== undefined) locations.push({ path: explicit, source: 'REGISTRY_AUTH_FILE', legacyFormat: false });
  const runtimeDir = nonEmpty(env['XDG_RUNTIME_DIR']);
  if (runtimeDir !== undefined) {
    locations.push({ path: join(runtimeDir, 'containers', 'auth.json'), source: 'XDG_RUNTIME_DIR', legacyFormat: false });
  }
  const configHome = nonEmpty(env['XDG_CONFIG_HOME']) ?? join(homedir, '.config');
  locations.push({ path: join(configHome, 'containers', 'auth.json'), source: 'XDG_CONFIG_HOME', legacyFormat: false });
  locations.push({ path: dockerConfigPath(env, homedir), source: 'DOCKER_CONFIG', legacyFormat: false });
  locations.push({ path: join(homedir, '.dockercfg'), source: 'dockercfg', legacyFormat: true });
  return locations;
}

/** One `auths` value. Only the fields hoist reads are typed; others are kept as found. */
export interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
}

export interface AuthFile {
  path: string;
  legacyFormat: boolean;
  /** The parsed document, kept whole so a rewrite preserves every key hoist does not know. */
  document: Record<string, unknown>;
  auths: Record<string, AuthEntry>;
  credHelpers: Record<string, string>;
  credsStore: string | undefined;
}

const ENTRY_STRING_FIELDS = ['auth', 'username', 'password', 'identitytoken', 'registrytoken', 'email', 'serveraddress'] as const;

export function badAuthFile(path: string, problem: string, cause?: unknown): HoistError {
  return new HoistError('BAD_AUTH_FILE', `registry auth file ${path}: ${problem}`, {
    hint:
      `fix ${path} (a JSON object like {"auths": {"registry.example.com": {"auth": "<base64 of user:password>"}}}), ` +
      'or move it aside and log in again',
    ...(cause === undefined ? {} : { cause }),
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Where JSON.parse stopped, as line and column. V8's own message quotes the
 * text around the error, which may be a secret, so it is never passed on.
 */
function syntaxErrorPlace(text: string, err: unknown): string {
  const m = err instanceof Error ? /position (\d+)/.exec(err.message) : null;
  if (!m || m[1] === undefined) return 'it is not valid JSON';
  const offset = Number(m[1]);
  const before = text.slice(0, offset).split('\n');
  const line = before.length;
  const column = (before[before.length - 1]?.length ?? 0) + 1;
  return `it is not valid JSON (line ${line}, column ${column})`;
}

function parseEntries(path: string, value: unknown, where: string): Record<string, AuthEntry> {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) throw badAuthFile(path, `${where} must be a JSON object`);
  for (const [key, entry] of Object.entries(value)) {
    if (!isObject(entry)) throw badAuthFile(path, `${where}[${JSON.stringify(key)}] must be a JSON object`);
    for (const field of ENTRY_STRING_FIELDS) {
      const v = entry[field];
      if (v !== undefined && v !== null && typeof v !== 'string') {
        throw badAuthFile(path, `${where}[${JSON.stringify(key)}].${field} must be a string`);
      }
    }
  }
  return value as Record<string, AuthEntry>;
}

function parseHelperName(path: string, value: unknown, where: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') throw badAuthFile(path, `${where} must be a string`);
  if (!isValidHelperName(value)) {
    throw badAuthFile(path, `${where} names credential helper ${JSON.stringify(value)}, which is not a valid helper name`);
  }
  return value;
}

/** Parse an auth file's text. Throws BAD_AUTH_FILE naming the file and what is wrong, never the content. */
export function parseAuthFile(path: string, text: string, legacyFormat = false): AuthFile {
  const body = text.replace(/^\uFEFF/, '');
  let document: unknown;
  if (body.trim() === '') {
    // docker treats an empty config.json as an empty config.
    document = {};
  } else {
    try {
      document = JSON.parse(body);
    } catch (err) {
      throw badAuthFile(path, syntaxErrorPlace(body, err));
    }
  }
  if (!isObject(document)) throw badAuthFile(path, 'the top level must be a JSON object');
  if (legacyFormat) {
    return { path, legacyFormat, document, auths: parseEntries(path, document, 'the file'), credHelpers: {}, credsStore: undefined };
  }
  const auths = parseEntries(path, document['auths'], '"auths"');
  const credHelpers: Record<string, string> = {};
  const rawHelpers = document['credHelpers'];
  if (rawHelpers !== undefined && rawHelpers !== null) {
    if (!isObject(rawHelpers)) throw badAuthFile(path, '"credHelpers" must be a JSON object');
    for (const [key, value] of Object.entries(rawHelpers)) {
      const helper = parseHelperName(path, value, `"credHelpers"[${JSON.stringify(key)}]`);
      if (helper !== undefined) credHelpers[key] = helper;
    }
  }
  const credsStore = parseHelperName(path, document['credsStore'], '"credsStore"');
  return { path, legacyFormat, document, auths, credHelpers, credsStore };
}

/** Read and parse one auth file; undefined when it does not exist. */
export async function readAuthFile(location: Pick<AuthFileLocation, 'path' | 'legacyFormat'>): Promise<AuthFile | undefined> {
  let text: string;
  try {
    text = await readFile(location.path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    const problem = code === 'EISDIR' ? 'it is a directory, not a file' : `it cannot be read (${code ?? 'error'})`;
    throw badAuthFile(location.path, problem, err);
  }
  return parseAuthFile(location.path, text, location.legacyFormat);
}

/**
 * The credential helper that owns `registry` in this file: its
 * `credHelpers` entry, else `credsStore` (docker/cli's
 * getConfiguredCredentialStore). An exact key wins over an alias spelling.
 */
export function helperFor(file: AuthFile, registry: string): string | undefined {
  const exact = file.credHelpers[dockerServerUrl(registry)] ?? file.credHelpers[registry];
  if (exact !== undefined) return exact;
  for (const [key, helper] of Object.entries(file.credHelpers)) {
    if (authKeyRegistry(key) === registry) return helper;
  }
  return file.credsStore;
}

/** Every `auths` key in this file that names `registry`, the exact spellings first. */
export function authKeysFor(file: AuthFile, registry: string): string[] {
  const preferred = new Set([dockerServerUrl(registry), registry]);
  const keys = [...preferred].filter((k) => Object.hasOwn(file.auths, k));
  for (const key of Object.keys(file.auths)) {
    if (!keys.includes(key) && authKeyRegistry(key, file.legacyFormat) === registry) keys.push(key);
  }
  return keys;
}

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The credential an `auths` entry holds, or undefined for an empty entry
 * (docker writes `{}` as a marker when a helper holds the secret).
 * Precedence follows docker's registry client: registrytoken, then
 * identitytoken, then `auth`, then `username`/`password`.
 */
export function entryCredential(file: AuthFile, key: string): Credential | undefined {
  const entry = file.auths[key];
  if (entry === undefined) return undefined;
  if (entry.registrytoken) return { kind: 'registry-token', token: entry.registrytoken };
  if (entry.identitytoken) return { kind: 'identity-token', token: entry.identitytoken };
  if (entry.auth) {
    const compact = entry.auth.replace(/\s+/g, '');
    if (!BASE64_RE.test(compact) || compact.length % 4 === 1) {
      throw badAuthFile(file.path, `the "auth" value of ${JSON.stringify(key)} is not base64`);
    }
    const decoded = Buffer.from(compact, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) {
      throw badAuthFile(file.path, `the "auth" value of ${JSON.stringify(key)} does not decode to username:password`);
    }
    // containers/image trims newlines: `echo user:pass | base64` leaves one.
    const username = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1).replace(/^\n+|\n+$/g, '');
    if (username === '' && password === '') return undefined;
    return { kind: 'basic', username, password };
  }
  if (entry.username) return { kind: 'basic', username: entry.username, password: entry.password ?? '' };
  return undefined;
}
