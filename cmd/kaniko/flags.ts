/**
 * The Kaniko executor's flags on `hoist build`, so that a CI job moves by
 * changing only the executable (and buildx's --label, --annotation,
 * --iidfile). Registration and a pure translation into hoist's own build
 * flags; opening the context and writing Kaniko's files is in index.ts.
 *
 * Kaniko (cobra/pflag) accepts `--flag=value` and `--flag value`, and
 * booleans as `--flag` or `--flag=true|false` (Go's strconv.ParseBool).
 * The booleans are registered with an optional value for that reason.
 */
import { Option, type Command } from 'commander';
import { UsageError } from '../../src/errors.js';
import { parseReference } from '../../src/oci/index.js';
import { parseImageContext } from '../../src/images/image-aliases.js';
import { collect } from '../common-options.js';

const GROUP = 'Kaniko executor flags (a Kaniko job runs with its command line unchanged):';

/** Go's strconv.ParseBool. */
export function parseGoBool(flag: string, value: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  throw new UsageError(`${flag} takes true or false, not ${JSON.stringify(value)}`, {
    hint: `write ${flag} or ${flag}=false (put the build context in --context, or before the flags)`,
  });
}

/** A Kaniko boolean: `--x`, `--x=true`, `--x=false`. */
function boolOption(flags: string, description: string): Option {
  const long = /--[\w-]+/.exec(flags)?.[0] ?? flags;
  // commander stores a `--no-x` flag as `x`: a value given to it is inverted, so `--no-push=true` means push=false.
  const negated = long.startsWith('--no-');
  return new Option(`${flags} [bool]`, description).argParser((v: string) => (negated ? !parseGoBool(long, v) : parseGoBool(long, v))).helpGroup(GROUP);
}

function valueOption(flags: string, description: string, repeatable = false): Option {
  const o = new Option(flags, description).helpGroup(GROUP);
  return repeatable ? o.argParser(collect).default([]) : o;
}

export interface KanikoFlags {
  context?: string;
  contextSubPath?: string;
  dockerfile?: string;
  git?: string;
  /** `--no-push` (false); undefined when not given. */
  push?: boolean;
  tarPath?: string;
  ociLayoutPath?: string;
  customPlatform?: string;
  label: string[];
  annotation: string[];
  iidfile?: string;
  imageNameWithDigestFile?: string;
  imageNameTagWithDigestFile?: string;
  buildContext: string[];
  reproducible?: boolean;
  insecure?: boolean;
  insecurePull?: boolean;
  skipTlsVerify?: boolean;
  skipTlsVerifyPull?: boolean;
  skipTlsVerifyRegistry: string[];
  registryCertificate: string[];
  registryClientCert: string[];
  registryMirror: string[];
  registryMap: string[];
  skipDefaultRegistryFallback?: boolean;
  /** `--cache`: with a destination and no --cache-repo, the registry cache is DESTINATION-REPO/cache (Kaniko's default). */
  cache?: boolean;
  cacheRepo?: string | undefined;
  cacheTtl?: string;
  /** `--no-push-cache` (false): look up in the cache repository, record nothing there. */
  pushCache?: boolean;
  // Accepted, with a note: they change nothing in hoist.
  cacheCopyLayers?: boolean;
  cacheRunLayers?: boolean;
  compressedCaching?: boolean;
  singleSnapshot?: boolean;
  snapshotMode?: string;
  useNewRun?: boolean;
  cleanup?: boolean;
  ignorePath: string[];
  ignoreVarRun?: boolean;
  skipUnusedStages?: boolean;
  verbosity?: string;
  logFormat?: string;
  logTimestamp?: boolean;
  pushRetry?: string;
  imageFsExtractRetry?: string;
  imageDownloadRetry?: string;
  pushIgnoreImmutableTagErrors?: boolean;
  skipPushPermissionCheck?: boolean;
  forceBuildMetadata?: boolean;
  force?: boolean;
  kanikoDir?: string;
  compression?: string;
}

/** Add Kaniko's flags to `hoist build` (after its own: `--no-push` pairs with `--push`). */
export function addKanikoOptions(cmd: Command): Command {
  const options = [
    valueOption('-c, --context <path>', 'build context: DIR, dir://DIR, tar://FILE.tar.gz, - or tar://stdin, git://host/repo.git#ref, https://host/repo.git#ref:subdir'),
    valueOption('--context-sub-path <dir>', 'use this directory inside the context'),
    valueOption('--dockerfile <path>', 'Dockerfile path: as given, else relative to the context (Kaniko\'s reading)'),
    valueOption('--git <options>', 'for a git context: branch=NAME,recurse-submodules=true'),
    boolOption('--no-push', 'do not push; --destination only names the image (for --tar-path and the digest files)'),
    valueOption('--tar-path <file>', 'also write a docker load tarball, tagged with the destinations'),
    valueOption('--oci-layout-path <dir>', 'also write an OCI layout directory'),
    valueOption('--custom-platform <os/arch[/variant]>', 'the platform to build for (same as --platform)'),
    valueOption('--label <key=value>', 'add a label to the image (repeatable)', true),
    valueOption('--annotation <key=value>', 'add an annotation to the image manifest (repeatable; manifest:key=value also)', true),
    valueOption('--iidfile <file>', 'write the image ID (its config digest, as docker and buildx do) to this file'),
    valueOption('--image-name-with-digest-file <file>', 'write NAME@DIGEST for each destination'),
    valueOption('--image-name-tag-with-digest-file <file>', 'write NAME:TAG@DIGEST for each destination'),
    valueOption('--build-context <name=docker-image://ref>', 'read this image wherever the Dockerfile names NAME (FROM, COPY --from; repeatable)', true),
    boolOption('--reproducible', 'strip timestamps (created and file times 0, unless SOURCE_DATE_EPOCH is set)'),
    boolOption('--insecure', 'allow plain HTTP (or unverified TLS) to the destination registries'),
    boolOption('--skip-tls-verify', 'do not verify TLS of the destination registries'),
    boolOption('--insecure-pull', 'allow plain HTTP (or unverified TLS) to the registries images are pulled from'),
    boolOption('--skip-tls-verify-pull', 'do not verify TLS of the registries images are pulled from'),
    valueOption('--skip-tls-verify-registry <host>', 'do not verify TLS of this registry (repeatable)', true),
    valueOption('--registry-certificate <host=path>', 'trust this PEM CA certificate for this registry (repeatable)', true),
    valueOption('--registry-client-cert <host=cert,key>', 'mutual TLS (not supported: use /etc/docker/certs.d/HOST/client.cert and client.key)', true),
    valueOption('--registry-mirror <host[/prefix]>', 'pull Docker Hub images through this mirror first (repeatable; also $KANIKO_REGISTRY_MIRROR)', true),
    valueOption('--registry-map <orig=mirror[;...]>', 'pull images of registry orig through mirror first (repeatable; also $KANIKO_REGISTRY_MAP)', true),
    boolOption('--skip-default-registry-fallback', 'with mirrors: never pull from the original registry'),
    boolOption('--cache', 'use the build cache under --cache-dir (on by default; --cache=false is --no-cache)'),
    valueOption('--cache-repo <ref>', 'share step results through this registry repository (with --cache: default DESTINATION-REPO/cache)'),
    valueOption('--cache-ttl <duration>', 'use no cache entry recorded longer ago than this, e.g. 24h (default 336h, two weeks)'),
    boolOption('--cache-copy-layers', 'accepted; no effect (hoist caches COPY steps anyway)'),
    boolOption('--cache-run-layers', 'accepted; no effect (hoist caches RUN steps anyway)'),
    // Declared so that commander leaves pushCache unset unless --no-push-cache is given (a lone --no-x defaults x to true).
    new Option('--push-cache').hideHelp(),
    boolOption('--no-push-cache', 'look steps up in --cache-repo but record nothing there'),
    boolOption('--compressed-caching', 'accepted; no effect'),
    boolOption('--single-snapshot', 'accepted; no effect'),
    valueOption('--snapshot-mode <mode>', 'accepted; no effect (hoist compares content where stat changed)'),
    boolOption('--use-new-run', 'accepted; no effect'),
    boolOption('--cleanup', 'accepted; no effect (hoist never touches its own filesystem)'),
    valueOption('--ignore-path <path>', 'accepted; no effect (hoist builds in a separate rootfs)', true),
    boolOption('--ignore-var-run', 'accepted; no effect'),
    boolOption('--skip-unused-stages', 'accepted; no effect (hoist always skips unused stages)'),
    valueOption('-v, --verbosity <level>', 'accepted; no effect (see --progress)'),
    valueOption('--log-format <format>', 'accepted; no effect (see --progress)'),
    boolOption('--log-timestamp', 'accepted; no effect'),
    valueOption('--push-retry <n>', 'accepted; no effect (hoist retries failed requests itself)'),
    valueOption('--image-fs-extract-retry <n>', 'accepted; no effect'),
    valueOption('--image-download-retry <n>', 'accepted; no effect (hoist retries failed requests itself)'),
    boolOption('--push-ignore-immutable-tag-errors', 'accepted; no effect'),
    boolOption('--skip-push-permission-check', 'accepted; no effect'),
    boolOption('--force-build-metadata', 'accepted; no effect'),
    boolOption('--force', 'accepted; no effect (hoist runs outside containers too)'),
    valueOption('--kaniko-dir <dir>', 'accepted; no effect'),
    valueOption('--compression <gzip|zstd>', 'accepted; hoist writes gzip layers'),
  ];
  for (const o of options) cmd.addOption(o);
  return cmd;
}

/** The flags Kaniko jobs pass that hoist takes without acting on them, with why. */
const NO_EFFECT: ReadonlyArray<readonly [keyof KanikoFlags, string, string]> = [
  ['cacheCopyLayers', '--cache-copy-layers', 'hoist caches COPY and ADD steps anyway'],
  ['cacheRunLayers', '--cache-run-layers', 'hoist caches RUN steps anyway'],
  ['compressedCaching', '--compressed-caching', 'hoist keeps layers compressed in its store anyway'],
  ['singleSnapshot', '--single-snapshot', 'hoist makes one layer per step that changes files'],
  ['snapshotMode', '--snapshot-mode', 'hoist compares content where size, mtime, mode or owner changed'],
  ['useNewRun', '--use-new-run', 'hoist has one RUN implementation'],
  ['cleanup', '--cleanup', 'hoist builds in a scratch rootfs and removes it'],
  ['ignorePath', '--ignore-path', 'hoist builds in a scratch rootfs, not in its own filesystem'],
  ['ignoreVarRun', '--ignore-var-run', 'hoist builds in a scratch rootfs, not in its own filesystem'],
  ['skipUnusedStages', '--skip-unused-stages', 'hoist always skips stages the target does not need'],
  ['verbosity', '--verbosity', 'use --progress plain|tty|quiet'],
  ['logFormat', '--log-format', 'use --progress plain|tty|quiet'],
  ['logTimestamp', '--log-timestamp', 'use --progress plain'],
  ['pushRetry', '--push-retry', 'hoist retries failed registry requests itself'],
  ['imageFsExtractRetry', '--image-fs-extract-retry', 'hoist verifies every blob it unpacks'],
  ['imageDownloadRetry', '--image-download-retry', 'hoist retries failed registry requests itself'],
  ['pushIgnoreImmutableTagErrors', '--push-ignore-immutable-tag-errors', 'a refused tag still fails the push'],
  ['skipPushPermissionCheck', '--skip-push-permission-check', 'hoist checks push access before building'],
  ['forceBuildMetadata', '--force-build-metadata', 'metadata-only steps add history entries, not layers'],
  ['force', '--force', 'hoist does not need to run in a container'],
  ['kanikoDir', '--kaniko-dir', 'hoist keeps its files in --cache-dir'],
];

/** hoist's own build flags that a Kaniko flag may set. */
export interface HoistBuildFlags {
  file?: string | undefined;
  tag: string[];
  destination: string[];
  push?: boolean | undefined;
  output: string[];
  platform?: string | undefined;
  insecureRegistry: string[];
  digestFile?: string | undefined;
}

/** What the Kaniko flags come to: hoist's flags, plus what hoist's own flags cannot say. */
export interface KanikoTranslation<F extends HoistBuildFlags> {
  /** The `--context` value (or the positional context). */
  context: string;
  /** Sub-directory of the context (`--context-sub-path`). */
  contextSubPath?: string | undefined;
  /** `--git` options. */
  git: { branch?: string; recurseSubmodules: boolean };
  /** Kaniko's GIT_PULL_METHOD. */
  gitPullMethod: string;
  /** The Dockerfile as named (resolved once the context is a directory: as given, else inside the context). */
  dockerfile?: string | undefined;
  flags: F;
  labels: Array<[string, string]>;
  annotations: Array<[string, string]>;
  hostCaFiles: Record<string, string[]>;
  registryMaps: string[];
  registryMirrors: string[];
  skipDefaultRegistryFallback: boolean;
  /** `--build-context NAME=docker-image://REF`: [NAME, REF]. */
  imageContexts: Array<[string, string]>;
  /** Pull from any registry with TLS unverified or over HTTP (`--insecure-pull`, `--skip-tls-verify-pull`). */
  insecurePull: boolean;
  /** `--reproducible` without SOURCE_DATE_EPOCH: timestamps become the epoch. */
  sourceDateEpoch?: string | undefined;
  files: { iidfile?: string | undefined; imageNameWithDigest?: string | undefined; imageNameTagWithDigest?: string | undefined };
  /** `--destination` values, pushed or not: the names the digest files list. */
  destinations: string[];
  /** One line each, for standard error: flags taken without effect. */
  notes: string[];
}

/** Go's ParseBool for an environment variable; undefined when unset. */
function envBool(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  return parseGoBool(`$${name}`, v);
}

function keyValue(flag: string, value: string, allowBare: boolean): [string, string] {
  const eq = value.indexOf('=');
  if (eq === 0 || (eq < 0 && !allowBare)) throw new UsageError(`${flag} ${JSON.stringify(value)}: expected key=value`, { hint: `write ${flag} key=value` });
  return eq < 0 ? [value, ''] : [value.slice(0, eq), value.slice(eq + 1)];
}

/** buildx's `--annotation [TYPE:]key=value`: only manifest annotations mean something for a single image. */
function parseAnnotation(value: string): [string, string] {
  const m = /^([a-z-]+)(\[[^\]]*\])?:(.*)$/.exec(value);
  const eq = value.indexOf('=');
  if (m && (eq < 0 || value.indexOf(':') < eq)) {
    const [, type = '', , rest = ''] = m;
    if (type !== 'manifest') {
      throw new UsageError(`--annotation ${JSON.stringify(value)}: hoist builds one image manifest; ${type} annotations do not apply`, { hint: 'write --annotation key=value or manifest:key=value' });
    }
    return keyValue('--annotation', rest, false);
  }
  return keyValue('--annotation', value, false);
}

/** Kaniko's cache repository when --cache is on and none is named: the first destination's repository + `/cache`. */
function defaultCacheRepo(destinations: readonly string[]): string | undefined {
  const first = destinations[0];
  if (first === undefined) return undefined;
  try {
    return `${parseReference(first).repository().string()}/cache`;
  } catch {
    return undefined; // named in the error the push reports
  }
}

/** The registry host of a destination, for --insecure and --skip-tls-verify. */
function registryHost(ref: string): string | undefined {
  try {
    return parseReference(ref).domain;
  } catch {
    return undefined; // named in the error the push reports
  }
}

/**
 * Translate the Kaniko flags in `all` into hoist's. `positional` is the
 * context given as an argument ('.' when none was).
 */
export function translateKanikoFlags<F extends HoistBuildFlags & KanikoFlags>(positional: string, all: F, env: NodeJS.ProcessEnv): KanikoTranslation<F> {
  const notes: string[] = [];
  // --cache=false is hoist's --no-cache; --cache adds Kaniko's default cache repository, DESTINATION-REPO/cache.
  const cacheRepo = all.cacheRepo ?? (all.cache === true ? defaultCacheRepo(all.destination) : undefined);
  if (all.cache === true && cacheRepo === undefined) notes.push('note: --cache without --cache-repo or --destination changes nothing: hoist caches steps under --cache-dir by default');
  for (const [key, flag, why] of NO_EFFECT) {
    const v = all[key];
    if (v === undefined || (Array.isArray(v) && v.length === 0)) continue;
    notes.push(`note: ${flag} is accepted for Kaniko compatibility and changes nothing: ${why}`);
  }
  if (all.compression !== undefined && all.compression !== 'gzip') notes.push(`note: --compression ${all.compression} is accepted for Kaniko compatibility; hoist writes gzip layers, at its default level (a --compression-level given with it is ${all.compression}'s)`);
  if (all.registryClientCert.length > 0) {
    throw new UsageError('--registry-client-cert: mutual TLS from a flag is not supported', {
      hint: 'put the certificate and key in /etc/docker/certs.d/HOST[:PORT]/client.cert and client.key; hoist presents them to that registry',
    });
  }

  const context = all.context ?? positional;
  if (all.context !== undefined && positional !== '.' && positional !== all.context) {
    throw new UsageError(`two build contexts: ${JSON.stringify(positional)} and --context ${JSON.stringify(all.context)}`, { hint: 'give one of them' });
  }
  if (all.dockerfile !== undefined && all.file !== undefined && all.dockerfile !== all.file) {
    throw new UsageError(`two Dockerfiles: -f ${JSON.stringify(all.file)} and --dockerfile ${JSON.stringify(all.dockerfile)}`, { hint: 'give one of them' });
  }
  if (all.customPlatform !== undefined && all.platform !== undefined && all.customPlatform !== all.platform) {
    throw new UsageError(`two platforms: --platform ${all.platform} and --custom-platform ${all.customPlatform}`, { hint: 'give one of them' });
  }

  // Kaniko's environment: KANIKO_NO_PUSH, KANIKO_REGISTRY_MIRROR, KANIKO_REGISTRY_MAP (the flags win).
  const noPush = all.push === false || (all.push === undefined && envBool(env, 'KANIKO_NO_PUSH') === true);
  const destinations = all.destination;
  if ((all.imageNameWithDigestFile !== undefined || all.imageNameTagWithDigestFile !== undefined) && destinations.length === 0) {
    throw new UsageError('--image-name-with-digest-file and --image-name-tag-with-digest-file need --destination', { hint: 'add --destination REGISTRY/NAME:TAG (with --no-push to only name the image)' });
  }
  const output = [...all.output];
  if (all.tarPath !== undefined) output.push(`type=docker,dest=${all.tarPath}`);
  if (all.ociLayoutPath !== undefined) output.push(`type=oci-layout,dest=${all.ociLayoutPath}`);

  const insecure = [...all.insecureRegistry, ...all.skipTlsVerifyRegistry];
  if (all.insecure === true || all.skipTlsVerify === true) {
    for (const d of destinations) {
      const host = registryHost(d);
      if (host !== undefined && !insecure.includes(host)) insecure.push(host);
    }
  }
  const hostCaFiles: Record<string, string[]> = {};
  for (const value of all.registryCertificate) {
    const [host, file] = keyValue('--registry-certificate', value, false);
    if (file === '') throw new UsageError(`--registry-certificate ${JSON.stringify(value)}: the certificate path is missing`, { hint: 'write --registry-certificate my.registry.url=/path/to/ca.crt' });
    (hostCaFiles[host.toLowerCase()] ??= []).push(file);
  }

  const flags: F = {
    ...all,
    file: all.dockerfile ?? all.file,
    // --no-push: the destinations only name the image (in --tar-path and the digest files).
    tag: noPush ? [...all.tag, ...destinations] : all.tag,
    destination: noPush ? [] : destinations,
    push: noPush ? false : all.push,
    output,
    platform: all.customPlatform ?? all.platform,
    insecureRegistry: insecure,
    cacheRepo,
  };
  const git: KanikoTranslation<F>['git'] = { recurseSubmodules: false };
  for (const part of (all.git ?? '').split(',').filter((p) => p !== '')) {
    const [k, v] = keyValue('--git', part, false);
    if (k === 'branch') git.branch = v;
    else if (k === 'recurse-submodules') git.recurseSubmodules = parseGoBool('--git recurse-submodules', v);
    else if (k === 'single-branch' || k === 'insecure-skip-tls') notes.push(`note: --git ${k} is accepted for Kaniko compatibility and changes nothing`);
    else throw new UsageError(`--git ${JSON.stringify(all.git)}: unknown option ${JSON.stringify(k)}`, { hint: 'write --git branch=NAME,recurse-submodules=true' });
  }
  return {
    context,
    contextSubPath: all.contextSubPath,
    git,
    gitPullMethod: env.GIT_PULL_METHOD ?? 'https',
    dockerfile: flags.file,
    flags,
    labels: all.label.map((l) => keyValue('--label', l, true)),
    annotations: all.annotation.map(parseAnnotation),
    hostCaFiles,
    registryMaps: [...all.registryMap, ...(env.KANIKO_REGISTRY_MAP ? [env.KANIKO_REGISTRY_MAP] : [])],
    registryMirrors: [...all.registryMirror, ...(env.KANIKO_REGISTRY_MIRROR ? [env.KANIKO_REGISTRY_MIRROR] : [])],
    skipDefaultRegistryFallback: all.skipDefaultRegistryFallback === true,
    imageContexts: all.buildContext.map(parseImageContext),
    insecurePull: all.insecurePull === true || all.skipTlsVerifyPull === true,
    sourceDateEpoch: all.reproducible === true ? '0' : undefined,
    destinations: [...destinations],
    files: { iidfile: all.iidfile, imageNameWithDigest: all.imageNameWithDigestFile, imageNameTagWithDigest: all.imageNameTagWithDigestFile },
    notes,
  };
}
