import { homedir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { RegistryClient, DEFAULT_CERTS_DIRS, scrubError } from '../registry/index.js';
import { proxySettingsFromEnv } from '../registry/proxy.js';
import { defaultKeychain } from '../registry/keychain/index.js';
import { BlobStore, resolveStoreRoot } from '../src/oci/index.js';
import type { ImageAccess } from '../src/images/images.js';
import { FileSystemError } from '../src/fs-errors.js';
import { collect, hostPlatform, parseDurationFlag, platformFlag } from './common-options.js';
import type { CliIo } from './io.js';

export interface ImageFlags {
  platform?: string;
  insecureRegistry: string[];
  registryCa: string[];
  registryTimeout?: string;
  cacheDir?: string;
  /** CA files trusted for one registry each, by host[:port] (Kaniko's --registry-certificate). */
  hostCaFiles?: Readonly<Record<string, readonly string[]>>;
}

/** The options every verb that reads or writes images shares. */
export function addImageOptions(cmd: Command): Command {
  return cmd
    .option('--platform <os/arch[/variant]>', "platform to pick from a multi-platform image (default: this machine's; copy, pull, push, digest and manifest take the whole index)")
    .option('--insecure-registry <host[:port]>', 'allow plain HTTP or unverified TLS for this registry (repeatable)', collect, [])
    .option('--registry-ca <file>', 'trust this PEM CA certificate for registries (repeatable)', collect, [])
    .option('--registry-timeout <duration>', 'wait this long for a registry (or an ADD URL) to connect, answer or send more, then retry once (default 30s)')
    .option('--cache-dir <dir>', 'blob store directory (default: $HOIST_CACHE_DIR or ~/.cache/hoist)');
}

export function registryClientFor(flags: Pick<ImageFlags, 'insecureRegistry' | 'registryCa' | 'registryTimeout' | 'hostCaFiles'>, io: CliIo): RegistryClient {
  const timeoutMs = parseDurationFlag('--registry-timeout', flags.registryTimeout);
  return new RegistryClient({
    keychain: defaultKeychain({ env: io.env, homedir: homedir() }),
    insecureRegistries: flags.insecureRegistry,
    // An explicit CA list replaces Node's trust store, which then drops NODE_EXTRA_CA_CERTS: pass it on.
    caFiles: [...flags.registryCa, ...(io.env.NODE_EXTRA_CA_CERTS ? [io.env.NODE_EXTRA_CA_CERTS] : [])],
    ...(flags.hostCaFiles ? { hostCaFiles: flags.hostCaFiles } : {}),
    certsDirs: DEFAULT_CERTS_DIRS,
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    proxy: proxySettingsFromEnv(io.env),
  });
}

/** Image access for one command; the registry client is made only if a registry is used. */
function imageAccess(
  flags: ImageFlags,
  io: CliIo,
  opts: { cacheBlobs?: boolean } = {},
): { access: ImageAccess; close: () => Promise<void>; secrets: () => string[] } {
  let client: RegistryClient | undefined;
  const platform = flags.platform === undefined ? hostPlatform() : platformFlag(flags.platform);
  parseDurationFlag('--registry-timeout', flags.registryTimeout); // a bad value is a usage error before any work
  const access: ImageAccess = {
    store: cacheStore(resolveStoreRoot({ cacheDir: flags.cacheDir, env: io.env, homedir: homedir() })),
    registry: () => (client ??= registryClientFor(flags, io)),
    platform,
    cacheBlobs: opts.cacheBlobs ?? true,
    // SIGINT/SIGTERM then stop the transfer and remove its temp files before hoist exits.
    signal: io.interruption?.(),
  };
  return { access, close: async () => client?.close(), secrets: () => client?.secrets() ?? [] };
}

/** Run one command's work with image access; registry connections are released afterwards, whatever happens. */
export async function withImageAccess<T>(
  flags: ImageFlags,
  io: CliIo,
  opts: { cacheBlobs?: boolean },
  fn: (access: ImageAccess) => Promise<T>,
): Promise<T> {
  const { access, close, secrets } = imageAccess(flags, io, opts);
  try {
    return await fn(access);
  } catch (err) {
    // Whatever failed may quote what a registry sent back: mask the credentials used.
    throw scrubError(withCacheDirHint(err, access.store.root), secrets());
  } finally {
    await close();
  }
}

/** A cache directory that cannot be used: say how to choose another one. */
function withCacheDirHint(err: unknown, root: string): unknown {
  if (!(err instanceof FileSystemError)) return err;
  const abs = path.resolve(root);
  if (err.path !== abs && !err.path.startsWith(`${abs}${path.sep}`) && !abs.startsWith(`${err.path}${path.sep}`)) return err;
  const hint = `${err.hint ? `${err.hint}; or ` : ''}choose another cache directory with --cache-dir DIR or HOIST_CACHE_DIR=DIR`;
  return new FileSystemError(err.code, err.message, { path: err.path, errno: err.errno, hint, cause: err });
}

/** hoist's cache of blobs: one it lost while a command used it was pruned or removed beside it. */
function cacheStore(root: string): BlobStore {
  return new BlobStore(root, {
    missingHint: `hoist's cache at ${root} lost this blob while the command ran (hoist cache prune, or files removed by hand): run the command again`,
  });
}
