/**
 * `hoist build` with Kaniko's flags: the translation (flags.ts) applied
 * around the build. Before it: the context made a directory (unpacked or
 * cloned), the Dockerfile found as Kaniko finds it, the notes printed.
 * After it: Kaniko's image-name digest files and buildx's --iidfile.
 */
import { mkdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openContext, parseContextSpec, type ContextSpec } from '../../src/builder/context-source.js';
import { checkFileDestination } from '../../src/builder/preflight.js';
import { UsageError } from '../../src/errors.js';
import { registrySource, type ImageAccess } from '../../src/images/images.js';
import { canonicalRegistry, mirroredSource, parseRegistryMap, type RegistryMap } from '../../src/images/registry-map.js';
import { aliasedSource } from '../../src/images/image-aliases.js';
import { storedBasesSource } from '../../src/images/stored-bases.js';
import { writeFileAtomic } from '../../src/oci/atomic-file.js';
import { DEFAULT_DOMAIN, parseReference, type Image, type ImageSource, type Reference } from '../../src/oci/index.js';
import type { RegistryClient } from '../../registry/index.js';
import { registryClientFor, type ImageFlags } from '../image-options.js';
import type { CliIo } from '../io.js';
import { progressModeOf, type ProgressFlags } from '../progress/index.js';
import { translateKanikoFlags, type HoistBuildFlags, type KanikoFlags, type KanikoTranslation } from './flags.js';

export { addKanikoOptions } from './flags.js';

/** What the build needs from the Kaniko flags beyond hoist's own flags. */
export interface KanikoBuildExtras {
  labels: Array<[string, string]>;
  annotations: Array<[string, string]>;
  /** `--registry-certificate`: CA files by registry host. */
  hostCaFiles: Record<string, string[]>;
  /** `--reproducible`: the SOURCE_DATE_EPOCH to use when none is set. */
  sourceDateEpoch?: string | undefined;
  /** Where FROM images come from: the registry, through mirrors and with the pull TLS policy the flags ask for. */
  pullSource: (access: ImageAccess) => ImageSource;
  /** The context was unpacked or cloned for this build, and goes after it. */
  contextTransient: boolean;
}

type BuildResultLike = { image: Image } | undefined | void;

/**
 * Wrap `hoist build`'s action: `run` gets the context directory and hoist's
 * flags with the Kaniko flags applied; whatever was unpacked or cloned is
 * removed afterwards.
 */
export function withKanikoFlags<F extends HoistBuildFlags & KanikoFlags & ImageFlags & ProgressFlags>(
  io: CliIo,
  run: (context: string, flags: F & KanikoBuildExtras) => Promise<BuildResultLike>,
): (context: string, flags: F) => Promise<void> {
  return async (positional, all) => {
    const t = translateKanikoFlags(positional, all, io.env);
    // Text lines only where progress is text: a JSON stream or --quiet stays as it is.
    const mode = progressModeOf(all, io);
    const say = mode === 'plain' || mode === 'tty' ? (line: string) => io.stderr(line) : () => {};
    for (const note of t.notes) say(note);
    const spec = withGitBranch(parseContextSpec(t.context, t.gitPullMethod), t.git.branch);
    if (spec.kind === 'stdin' && t.flags.file === '-') {
      throw new UsageError('the context and the Dockerfile cannot both come from standard input', { hint: 'put the Dockerfile in the context archive, or pass a directory context' });
    }
    const registryMap = parseRegistryMap(t.registryMaps, t.registryMirrors);
    const clients: RegistryClient[] = [];
    const opened = await openContext(spec, {
      tmpDir: tmpdir(),
      stdin: spec.kind === 'stdin' ? process.stdin : undefined,
      subPath: t.contextSubPath,
      recurseSubmodules: t.git.recurseSubmodules,
      env: io.env,
      signal: io.interruption?.(),
    });
    try {
      const file = t.dockerfile === undefined || t.dockerfile === '-' ? t.dockerfile : await locateDockerfile(t.dockerfile, opened.dir);
      // Kaniko creates the directories of its image-name files. (--digest-file keeps hoist's rule: a missing directory is
      // a mistake found before the build.)
      for (const f of [t.files.imageNameWithDigest, t.files.imageNameTagWithDigest]) if (f !== undefined) await mkdir(path.dirname(path.resolve(f)), { recursive: true, mode: 0o700 });
      for (const [f, what] of [[t.files.iidfile, '--iidfile'], [t.files.imageNameWithDigest, '--image-name-with-digest-file'], [t.files.imageNameTagWithDigest, '--image-name-tag-with-digest-file']] as const) {
        if (f !== undefined) await checkFileDestination(f, what, 'digest');
      }
      // An image the store holds is opened there: by digest without the registry, a tag after one HEAD (not through mirrors: the HEAD would go around them).
      const headDigest = registryMap.size === 0 ? (access: ImageAccess) => async (ref: Reference) => (await access.registry().headManifest(ref))?.digest : undefined;
      const pullSource = (access: ImageAccess): ImageSource =>
        aliasedSource(storedBasesSource(registryPull(access, t, registryMap, io, clients, say), { store: access.store, headDigest: headDigest?.(access) }), t.imageContexts);
      const flags = {
        ...t.flags,
        file,
        labels: t.labels,
        annotations: t.annotations,
        hostCaFiles: t.hostCaFiles,
        sourceDateEpoch: t.sourceDateEpoch,
        pullSource,
        contextTransient: spec.kind !== 'dir',
      };
      const result = await run(opened.dir, flags);
      if (result) await writeKanikoFiles(result.image, t.destinations, t.files);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await opened.cleanup();
    }
  };
}

/**
 * FROM images from registries: through the mirrors first, and with
 * `--insecure-pull` over a client per registry that trusts that registry
 * without verification (pushes keep the main client's TLS policy).
 */
function registryPull(
  access: ImageAccess,
  t: KanikoTranslation<HoistBuildFlags & ImageFlags>,
  map: RegistryMap,
  io: CliIo,
  clients: RegistryClient[],
  say: (line: string) => void,
): ImageSource {
  const main = registrySource(access);
  if (map.size === 0 && !t.insecurePull) return main;
  const perHost = new Map<string, ImageSource>();
  const sourceFor = (host: string): ImageSource => {
    if (!t.insecurePull || host === '') return main;
    let source = perHost.get(host);
    if (source === undefined) {
      const client = registryClientFor({ ...t.flags, hostCaFiles: t.hostCaFiles, insecureRegistry: [...t.flags.insecureRegistry, host] }, io);
      clients.push(client);
      source = registrySource({ ...access, registry: () => client });
      perHost.set(host, source);
    }
    return source;
  };
  if (map.size === 0) return { image: (ref, platform) => sourceFor(hostOf(ref)).image(ref, platform) };
  return mirroredSource({ map, skipFallback: t.skipDefaultRegistryFallback, sourceFor, onWarning: (m) => say(`warning: ${m}`) });
}

function withGitBranch(spec: ContextSpec, branch: string | undefined): ContextSpec {
  return spec.kind === 'git' && branch !== undefined && spec.ref === undefined ? { ...spec, ref: branch } : spec;
}

function hostOf(ref: Reference | string | undefined): string {
  if (ref === undefined) return '';
  return typeof ref === 'string' ? parseReference(ref).domain : ref.domain;
}

/** Kaniko's reading of --dockerfile: the path as given if it exists, else the same path inside the context. */
async function locateDockerfile(file: string, contextDir: string): Promise<string> {
  if (await exists(file)) return path.resolve(file);
  const inContext = path.join(contextDir, file);
  if (!path.isAbsolute(file) && (await exists(inContext))) return inContext;
  return file;
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/** go-containerregistry names Docker Hub `index.docker.io`; Kaniko's digest files say so too. */
function kanikoRepositoryName(ref: Reference): string {
  return canonicalRegistry(ref.domain) === DEFAULT_DOMAIN ? `index.docker.io/${ref.path}` : ref.name;
}

/** --image-name-with-digest-file, --image-name-tag-with-digest-file and --iidfile, as Kaniko and buildx write them. */
export async function writeKanikoFiles(
  image: Image,
  destinations: readonly string[],
  files: { iidfile?: string | undefined; imageNameWithDigest?: string | undefined; imageNameTagWithDigest?: string | undefined },
): Promise<void> {
  const digest = await image.digest();
  const refs = destinations.map((d) => parseReference(d));
  const lines = (withTag: boolean) => refs.map((r) => `${kanikoRepositoryName(r)}${withTag ? `:${r.tag ?? 'latest'}` : ''}@${digest}\n`).join('');
  if (files.imageNameWithDigest !== undefined) await writeFileAtomic(files.imageNameWithDigest, Buffer.from(lines(false)));
  if (files.imageNameTagWithDigest !== undefined) await writeFileAtomic(files.imageNameTagWithDigest, Buffer.from(lines(true)));
  if (files.iidfile !== undefined) await writeFileAtomic(files.iidfile, Buffer.from((await image.manifest()).config.digest));
}
