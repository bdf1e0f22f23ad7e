import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { build, GZIP_LEVEL_HINT, isGzipLevel } from '../src/builder/executor/build.js';
import { bindStandardOutput, parseOutputSpec } from '../src/images/outputs.js';
import { parseSourceDateEpoch } from '../src/builder/source-date-epoch.js';
import { parseReference, type Image, type ImageSink, type ImageSource, type Platform, type Reference } from '../src/oci/index.js';
import { preflightBuild } from '../src/builder/preflight.js';
import { HoistError, UsageError, type Warning } from '../src/errors.js';
import { parseSecretFlag, parseSshFlag, type SecretSource } from '../src/builder/run/mounts/build-secrets.js';
import { eventEmitter } from '../src/builder/events.js';
import { throttleTransfers } from '../src/oci/progress.js';
import { collect, hostPlatform, parseBuildArgs, parseDurationFlag, targetPlatform } from './common-options.js';
import { addImageOptions, withImageAccess, type ImageFlags } from './image-options.js';
import { proxySettingsFromEnv } from '../registry/proxy.js';
import { streamsLayersTo } from '../registry/endpoint.js';
import type { Dispatcher } from 'undici';
import type { CliIo } from './io.js';
// The flags' values only: the runners themselves are loaded by the first RUN that runs.
import { RUNNER_KINDS } from '../src/run/process-spec.js';
import { SNAPSHOT_REQUESTS, type SnapshotRequest } from '../src/run/select-snapshot.js';
import type { Isolation } from '../src/run/index.js';
import { addProgressOption, createRenderer, progressModeOf, watched, type ProgressFlags } from './progress/index.js';
import { addKanikoOptions, withKanikoFlags, type KanikoBuildExtras } from './kaniko/index.js';
import type { KanikoFlags } from './kaniko/flags.js';
import { localStepCache } from '../src/builder/executor/local-cache.js';
import { RegistryStepStore } from '../src/builder/cache/registry-store.js';
import { registryCacheTargets } from './cache-flags.js';

/** A repeatable flag that also takes a comma-separated list. */
function collectList(value: string, previous: string[]): string[] {
  return [...previous, ...value.split(',').map((v) => v.trim()).filter((v) => v !== '')];
}

interface BuildFlags extends ImageFlags, ProgressFlags, KanikoFlags {
  file?: string;
  tag: string[];
  destination: string[];
  push?: boolean;
  buildArg: string[];
  target?: string;
  output: string[];
  digestFile?: string;
  metadataFile?: string;
  isolation: string;
  snapshot: string;
  secret: string[];
  ssh: string[];
  /** false with --no-cache (or Kaniko's --cache=false). */
  cache?: boolean;
  /** `--no-cache-filter`: commander names a `--no-x` option `x`, whatever value it takes. */
  cacheFilter: string[];
  cacheTo: string[];
  cacheFrom: string[];
  jobs?: number;
  compressionLevel?: number;
}

/** `--jobs N`: a whole number from 1. */
function parseJobs(value: string): number {
  const jobs = /^[0-9]+$/.test(value) ? Number(value) : Number.NaN;
  if (Number.isSafeInteger(jobs) && jobs >= 1) return jobs;
  throw new UsageError(`--jobs ${JSON.stringify(value)} is not a number of stages`, { hint: 'give a whole number from 1 (1 builds one stage after another); the default is the number of CPUs' });
}

/** Kaniko's way of asking for the default level. */
const KANIKO_DEFAULT_LEVEL = -1;

/** `--compression-level N`: a whole number; gzipLevel says whether it is one for gzip. */
function parseCompressionLevel(value: string): number {
  const level = /^-?[0-9]{1,2}$/.test(value.trim()) ? Number(value) : Number.NaN;
  if (Number.isInteger(level)) return level;
  throw new UsageError(`--compression-level ${JSON.stringify(value)} is not a gzip level`, { hint: GZIP_LEVEL_HINT });
}

/**
 * The gzip level a build writes with: 0-9, or undefined for the default
 * (none given, or Kaniko's -1). A level given with Kaniko's `--compression
 * zstd` is zstd's (1-22): hoist writes gzip (at its default level), as the
 * note on --compression says.
 */
function gzipLevel(level: number | undefined, compression: string | undefined): number | undefined {
  if (level === undefined || level === KANIKO_DEFAULT_LEVEL || compression === 'zstd') return undefined;
  if (isGzipLevel(level)) return level;
  throw new UsageError(`--compression-level "${level}" is not a gzip level`, { hint: GZIP_LEVEL_HINT });
}

function parseIsolation(value: string): Isolation {
  if (value === 'auto' || (RUNNER_KINDS as readonly string[]).includes(value)) return value as Isolation;
  throw new UsageError(`--isolation ${JSON.stringify(value)} is not a runner`, { hint: `use auto, ${RUNNER_KINDS.join(', ')} (hoist doctor shows which work here)` });
}

function parseSnapshot(value: string): SnapshotRequest {
  if ((SNAPSHOT_REQUESTS as readonly string[]).includes(value)) return value as SnapshotRequest;
  throw new UsageError(`--snapshot ${JSON.stringify(value)} is not a snapshotter`, { hint: `use ${SNAPSHOT_REQUESTS.join(', ')} (hoist doctor shows whether overlay works here)` });
}

export function registerBuild(program: Command, io: CliIo): void {
  addKanikoOptions(addProgressOption(addImageOptions(program
    .command('build')
    .description('build an image from a Dockerfile and write it to the outputs')
    .argument('[context]', 'build context directory', '.')
    .option('-f, --file <path>', 'Dockerfile path (default: CONTEXT/Dockerfile; - reads standard input)')
    .option('-t, --tag <name>', 'name the image, e.g. app:1.0 (repeatable)', collect, [])
    .option('--build-arg <name[=value]>', 'set a build-time variable (repeatable)', collect, [])
    .option('--target <stage>', 'build this stage instead of the last one')
    .option('-o, --output <spec>', 'type=oci|oci-layout|docker,dest=PATH (repeatable; dest=- writes an archive to standard output)', collect, [])
    .option('--push', 'push the image to every -t tag')
    .option('-d, --destination <ref>', 'tag and push to this reference (Kaniko\'s name for -t + --push; repeatable)', collect, [])
    .option('--digest-file <path>', 'write the image manifest digest to this file')
    .option('--metadata-file <path>', 'write a JSON build report (digest, tags, config, layers, steps) to this file')
    .option('--isolation <runner>', 'how RUN steps are isolated: auto, userns, chroot or proot (hoist doctor shows what works here)', 'auto')
    .option('--snapshot <kind>', 'how a RUN step\'s changes are found: auto, walk (a stat walk of the rootfs) or overlay (the step\'s overlayfs upper dir)', 'auto')
    .option('--secret <spec>', 'a secret for RUN --mount=type=secret: id=NAME,src=FILE or id=NAME,env=VARIABLE (repeatable)', collect, [])
    .option('--compression-level <n>', 'gzip level of the layers the build writes: 0 (none) to 9 (smallest); default 4, layers about the size of buildah\'s (BuildKit uses 6, Kaniko 1)', parseCompressionLevel)
    .option('--jobs <n>', 'build at most N stages that do not depend on each other at once (default: the number of CPUs; 1: one after another)', parseJobs)
    .option('--ssh <spec>', 'an SSH agent for RUN --mount=type=ssh: default (SSH_AUTH_SOCK\'s) or ID=/path/to/agent.sock (repeatable)', collect, [])
    .option('--no-cache-filter <stage>', 'run the steps of this stage (name or index) without the build cache (repeatable, or a comma list)', collectList, [])
    .option('--cache-to <spec>', 'also record step results in a registry: type=registry,ref=REGISTRY/REPO (buildx\'s form of --cache-repo)', collect, [])
    .option('--cache-from <spec>', 'also look steps up in a registry: type=registry,ref=REGISTRY/REPO', collect, []))))
    // After Kaniko's --cache: with both defined, cache stays unset unless one is given.
    .option('--no-cache', 'look nothing up in the build cache: every step runs (results are still recorded)')
    .action(withKanikoFlags(io, async (context: string, flags: BuildFlags & KanikoBuildExtras) => {
      const outputs = bindStandardOutput(flags.output.map(parseOutputSpec), { stream: process.stdout, isTerminal: process.stdout.isTTY === true });
      const archiveOnStdout = outputs.some((o) => typeof o.dest !== 'string');
      const tags = [...flags.tag, ...flags.destination];
      const push = Boolean(flags.push) || flags.destination.length > 0;
      if (outputs.length === 0 && !push && flags.push !== false) {
        throw new UsageError('hoist build needs somewhere to put the image', {
          hint: 'add --output type=oci,dest=image.tar (or type=oci-layout / type=docker), or --push with -t REGISTRY/NAME:TAG',
        });
      }
      if (push && tags.length === 0) throw new UsageError('--push needs at least one -t tag to push to');
      const buildArgs = parseBuildArgs(flags.buildArg, io.env);
      const isolation = parseIsolation(flags.isolation);
      const snapshot = parseSnapshot(flags.snapshot);
      const compressionLevel = gzipLevel(flags.compressionLevel, flags.compression);
      const fromStdin = flags.file === '-';
      const timeoutMs = parseDurationFlag('--registry-timeout', flags.registryTimeout);
      // ADD <url> honours HTTP(S)_PROXY / NO_PROXY and the timeout, as registries do.
      // The dispatcher (and undici) is made by the first download: most builds have none.
      let dispatcher: Promise<Dispatcher> | undefined;
      const proxy = proxySettingsFromEnv(io.env);
      const urlDispatcher = () =>
        (dispatcher ??= import('../registry/url-dispatcher.js').then((m) => m.urlDispatcher({ proxy, ...(timeoutMs === undefined ? {} : { timeoutMs }) })));
      const signal = io.interruption?.();
      const mode = progressModeOf(flags, io);
      const renderer = createRenderer(mode, io, signal);
      const onEvent = renderer.event.bind(renderer);
      // Registry transfers are reported by the source and sink; a few updates a second are plenty.
      const emit = eventEmitter(onEvent);
      const onProgress = throttleTransfers((p) => emit({ type: 'transfer', ...p }));
      return await withImageAccess(flags, io, {}, async (baseAccess) => {
        const access = { ...baseAccess, onProgress };
        // Path mistakes and a registry that refuses the push are found before any work, not after it.
        await preflightBuild({
          outputs,
          digestFile: flags.digestFile,
          metadataFile: flags.metadataFile,
          ...(push ? { pushTargets: tags.map(pushTarget), checkPush: (ref) => access.registry().checkPushAccess(ref, signal ? { signal } : {}) } : {}),
        });
        const targets = registryCacheTargets(flags);
        const ttlMs = parseDurationFlag('--cache-ttl', flags.cacheTtl);
        const cacheStore = (repo: string | undefined) => (repo === undefined ? undefined : new RegistryStepStore(access.registry(), parseReference(repo)));
        const from = cacheStore(targets.from);
        const to = targets.to === targets.from ? from : cacheStore(targets.to);
        const cache = await localStepCache(access.store, {
          noLookups: flags.cache === false,
          noLookupStages: flags.cacheFilter,
          ttlMs,
          registry: { from, to, warn: (message) => emit({ type: 'warning', code: 'CACHE_REGISTRY', message }), ...(signal ? { signal } : {}) },
        });
        const result = await watched(renderer, () => build({
          downloads: { dispatcher: urlDispatcher, ...(timeoutMs === undefined ? {} : { timeoutMs }) },
          contextDir: context,
          contextTransient: flags.contextTransient,
          dockerfile: fromStdin ? undefined : flags.file,
          dockerfileText: fromStdin ? readFileSync(0, 'utf8') : undefined,
          buildArgs,
          target: flags.target,
          buildPlatform: hostPlatform(),
          targetPlatform: targetPlatform(flags.platform),
          store: access.store,
          images: lazySource(() => flags.pullSource(access)),
          push: push ? lazySink(async () => new (await import('../registry/sink.js')).RegistrySink(access.registry(), { onProgress, ...(signal ? { signal } : {}) })) : undefined,
          outputs,
          tags,
          epoch: parseSourceDateEpoch(buildArgs.get('SOURCE_DATE_EPOCH') ?? io.env.SOURCE_DATE_EPOCH ?? flags.sourceDateEpoch),
          digestFile: flags.digestFile,
          metadataFile: flags.metadataFile,
          signal,
          onEvent,
          isolation,
          snapshot,
          toolPath: io.env.PATH,
          labels: flags.labels,
          annotations: flags.annotations,
          secrets: secretSources(flags.secret, io.env, (w) => onEvent({ type: 'warning', ...w, time: Date.now() })),
          sshAgents: sshSockets(flags.ssh, io.env),
          jobs: flags.jobs,
          compressionLevel,
          cache,
        }));
        if (mode === 'plain' || mode === 'tty') {
          for (const o of outputs) io.stderr(typeof o.dest === 'string' ? `wrote ${o.type} ${o.dest}` : `wrote ${o.type} to standard output`);
          if (push) for (const t of tags) io.stderr(`pushed ${t}`);
        }
        // Standard output carries the archive then: the digest must not end up inside it.
        if (archiveOnStdout) io.stderr(`digest ${result.digest}`);
        else io.stdout(result.digest);
        return result;
      }).finally(async () => (await dispatcher)?.close());
    }));
}

/**
 * `--secret` flags: files by path, `env=` ones read from the environment
 * now. An unset variable gives no secret, as buildx, with a warning: a step
 * that uses it would otherwise fail on its own, far from the cause.
 */
function secretSources(specs: readonly string[], env: Readonly<Record<string, string | undefined>>, warn: (w: Warning) => void): Map<string, SecretSource> {
  const out = new Map<string, SecretSource>();
  for (const spec of specs) {
    const flag = parseSecretFlag(spec);
    if (flag.file !== undefined) out.set(flag.id, { file: flag.file });
    else if (flag.env !== undefined && env[flag.env] !== undefined) out.set(flag.id, { value: Buffer.from(env[flag.env] as string) });
    else if (flag.env !== undefined) {
      warn({ code: 'SECRET_UNSET', message: `--secret id=${flag.id}: the variable ${flag.env} is not set, so the build has no secret ${JSON.stringify(flag.id)} (a RUN that requires it fails)` });
    }
  }
  return out;
}

/** `--ssh` flags: the agent socket of each id (SSH_AUTH_SOCK's where none is given). */
function sshSockets(specs: readonly string[], env: Readonly<Record<string, string | undefined>>): Map<string, string> {
  const out = new Map<string, string>();
  for (const spec of specs) {
    const flag = parseSshFlag(spec);
    if (flag.paths.length > 1) throw new UsageError(`--ssh ${spec}: hoist forwards one agent socket per id`, { hint: `write --ssh ${flag.id}=/path/to/agent.sock` });
    const socket = flag.paths[0] ?? env.SSH_AUTH_SOCK;
    if (socket === undefined || socket === '') {
      throw new UsageError(`--ssh ${spec}: no agent socket given and SSH_AUTH_SOCK is not set`, { hint: 'start one (eval "$(ssh-agent)"; ssh-add), or write --ssh default=/path/to/agent.sock' });
    }
    out.set(flag.id, socket);
  }
  return out;
}

/** A -t tag as a registry reference. */
function pushTarget(tag: string): Reference {
  try {
    return parseReference(tag);
  } catch (err) {
    throw new HoistError('BAD_TAG', `invalid tag ${JSON.stringify(tag)}: ${(err as Error).message}`, {
      hint: 'write -t name[:tag], e.g. -t registry.example.com/team/app:latest',
      cause: err,
    });
  }
}

/** Registry access is set up only if the Dockerfile actually names an image. */
function lazySource(make: () => ImageSource): ImageSource {
  let source: ImageSource | undefined;
  return { image: (ref?: Reference | string, platform?: Platform): Promise<Image> => (source ??= make()).image(ref, platform) };
}

/** The registry client's sink is loaded only when the build pushes. */
function lazySink(make: () => Promise<ImageSink>): ImageSink {
  let sink: Promise<ImageSink> | undefined;
  return {
    write: async (img, refs) => (await (sink ??= make())).write(img, refs),
    sendAhead: (refs, desc, open, signal) => {
      (sink ??= make()).then((s) => s.sendAhead?.(refs, desc, open, signal)).catch(() => undefined);
    },
    streamsTo: (refs) => refs[0] !== undefined && streamsLayersTo(refs[0].domain),
    sendGrowing: (refs, blob, signal) => {
      (sink ??= make())
        .then(
          (s) => (s.sendGrowing === undefined ? blob.discard() : s.sendGrowing(refs, blob, signal)),
          () => blob.discard(),
        )
        .catch(() => blob.discard());
    },
  };
}
