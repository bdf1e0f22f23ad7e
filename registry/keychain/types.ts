/**
 * The keychain's public types. The registry client asks a Keychain for the
 * credential of one registry host and never learns where it came from.
 */

export type Credential =
  | { kind: 'basic'; username: string; password: string }
  /** docker config `identitytoken`: the refresh_token of the OAuth2 POST token flow. */
  | { kind: 'identity-token'; token: string }
  /** docker config `registrytoken`: a bearer token sent as is. */
  | { kind: 'registry-token'; token: string };

export interface Keychain {
  /** `registry` is a host as in Reference.domain: 'docker.io', 'ghcr.io', 'localhost:5000'. */
  resolve(registry: string): Promise<Credential | undefined>;
}

export type HelperAction = 'get' | 'store' | 'erase' | 'list';

export interface HelperResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `docker-credential-<helper> <action>` with `input` on stdin. Resolves
 * with the exit status and output; rejects only when the helper cannot be
 * started at all.
 */
export type RunHelper = (helper: string, action: HelperAction, input: string) => Promise<HelperResult>;

export interface KeychainOptions {
  /** The environment to honour (DOCKER_CONFIG, REGISTRY_AUTH_FILE, XDG_*, PATH, and what helpers need). */
  env: Readonly<Record<string, string | undefined>>;
  homedir: string;
  /** Runs `docker-credential-<name> get|store|erase|list` with stdin; injectable for tests. */
  runHelper?: RunHelper;
}
