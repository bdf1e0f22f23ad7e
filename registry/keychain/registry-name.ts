/**
 * Registry names as config files spell them, reduced to the one host name
 * hoist compares.
 *
 * docker/cli keys `auths` by whatever `docker login` was given: a host
 * (`ghcr.io`), a host and port, or an API URL (`https://index.docker.io/v1/`,
 * `http://host`). Its ConvertToHostname strips the scheme and the path;
 * containers/image's normalizeAuthFileKey does the same for keys with a
 * scheme and keeps scheme-less keys with a path as repository namespaces
 * (`quay.io/team`), and both fold Docker Hub's aliases together.
 */

export const DOCKER_HUB = 'docker.io';
/** The key docker login writes for Docker Hub, and the server URL it gives credential helpers. */
export const DOCKER_HUB_SERVER_URL = 'https://index.docker.io/v1/';

const DOCKER_HUB_ALIASES: ReadonlySet<string> = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

function stripScheme(name: string): { rest: string; hadScheme: boolean } {
  const m = /^https?:\/\//i.exec(name);
  return m ? { rest: name.slice(m[0].length), hadScheme: true } : { rest: name, hadScheme: false };
}

function foldHost(host: string): string {
  const lower = host.toLowerCase();
  return DOCKER_HUB_ALIASES.has(lower) ? DOCKER_HUB : lower;
}

/**
 * The registry a caller means: 'docker.io' for any Docker Hub alias, else the
 * lower-cased host[:port]. Accepts URL forms too, and drops any path.
 */
export function canonicalRegistry(name: string): string {
  const { rest } = stripScheme(name.trim());
  return foldHost(rest.split('/', 1)[0] ?? '');
}

/**
 * The registry an `auths` key names, or undefined when the key is a
 * repository namespace (`quay.io/team/app`), which a registry-wide lookup
 * must not use. In the legacy ~/.dockercfg format every key is a host or URL.
 */
export function authKeyRegistry(key: string, legacyFormat = false): string | undefined {
  const { rest, hadScheme } = stripScheme(key.trim());
  const slash = rest.indexOf('/');
  if (slash >= 0 && !hadScheme && !legacyFormat) return undefined;
  const host = slash >= 0 ? rest.slice(0, slash) : rest;
  return host === '' ? undefined : foldHost(host);
}

/**
 * The server URL docker login uses for `registry`: the key it writes in
 * `auths` and the ServerURL it hands credential helpers.
 */
export function dockerServerUrl(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_SERVER_URL : registry;
}
