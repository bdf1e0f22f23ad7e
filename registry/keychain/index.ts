/**
 * Registry credentials from where docker, podman and skopeo keep them.
 *
 * defaultKeychain reads the auth files in the order auth-file.ts documents
 * (REGISTRY_AUTH_FILE, containers' auth.json files, docker's config.json,
 * ~/.dockercfg); the first file that yields a credential wins. Within one
 * file docker's rule applies: a credential helper that owns the registry
 * (`credHelpers[registry]`, else `credsStore`) answers alone, and an `auths`
 * entry is read only when no helper does. A helper that has nothing for the
 * registry sends the search on to the next file.
 *
 * Nothing is cached: each resolve reads the files again, so a login made
 * while hoist runs is seen.
 */
import { authFileLocations, authKeysFor, entryCredential, helperFor, readAuthFile } from './auth-file.js';
import { helperGet, processRunHelper } from './cred-helper.js';
import { canonicalRegistry, dockerServerUrl } from './registry-name.js';
import type { Credential, Keychain, KeychainOptions } from './types.js';

export type { Credential, HelperAction, HelperResult, Keychain, KeychainOptions, RunHelper } from './types.js';
export { login, logout, type LoginOptions, type LogoutOptions } from './docker-login.js';

export function defaultKeychain(opts: KeychainOptions): Keychain {
  const runHelper = opts.runHelper ?? processRunHelper(opts.env);
  const locations = authFileLocations(opts.env, opts.homedir);
  return {
    async resolve(name) {
      const registry = canonicalRegistry(name);
      if (registry === '') return undefined;
      for (const location of locations) {
        const file = await readAuthFile(location);
        if (file === undefined) continue;
        const helper = helperFor(file, registry);
        if (helper !== undefined) {
          const credential = await helperGet(runHelper, { helper, configuredIn: file.path }, dockerServerUrl(registry));
          if (credential !== undefined) return credential;
          continue;
        }
        for (const key of authKeysFor(file, registry)) {
          const credential = entryCredential(file, key);
          if (credential !== undefined) return credential;
        }
      }
      return undefined;
    },
  };
}

/** Fixed credentials, keyed by registry in any form a config file accepts ('docker.io', 'https://index.docker.io/v1/', 'host:port'). */
export function staticKeychain(map: Record<string, Credential>): Keychain {
  const byRegistry = new Map<string, Credential>();
  for (const [key, credential] of Object.entries(map)) byRegistry.set(canonicalRegistry(key), { ...credential });
  return {
    resolve(name) {
      const credential = byRegistry.get(canonicalRegistry(name));
      return Promise.resolve(credential === undefined ? undefined : { ...credential });
    },
  };
}

export function anonymousKeychain(): Keychain {
  return { resolve: () => Promise.resolve(undefined) };
}
