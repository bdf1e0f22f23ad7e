/**
 * Cache keys of build steps: a SHA-256 of the canonical JSON of named
 * fields. A step's key covers everything that can change its result and
 * nothing else (the README's "Build cache" section lists the fields):
 *
 * - `parent`: the key of the filesystem the step starts from: the base
 *   (`scratch`, `image:<manifest digest>`, or the final key of the stage it
 *   is built FROM), then after each layer `sha256(canonical JSON of
 *   {format: "hoist.cache.after-layer/v1", parent, diffId})`. So the chain
 *   follows what the steps made, by content: a step that ran again and
 *   made something else leads later steps to other keys. Metadata-only
 *   steps (ENV, LABEL, ...) are not part of it: they are replayed, and a
 *   step they affect has them in its own fields (RUN has its environment).
 * - `platform` and `epoch` (SOURCE_DATE_EPOCH, which clamps layer mtimes).
 * - the instruction's own fields, after expansion.
 *
 * `KEY_FORMAT` names the layout of the fields. A later hoist that changes
 * it changes the name, so old entries are never misread: they simply miss.
 * `BUILDER_SEMANTICS` is in every key too: a hoist whose steps make other
 * files from the same fields (a handler's fix, the tar writer's or the
 * snapshotter's output) raises it, so that a cache filled before, local or
 * shared through a registry, is not served to it.
 */
import { sha256Digest, type Digest } from '../../oci/digest.js';
import { canonicalJson, type KeyValue } from './canonical.js';

export const KEY_FORMAT = 'hoist.cache.step/v1';
/**
 * Raise it with every change to what a step makes from the same key fields.
 * 2: the first numbered; it drops entries made before the fixes of
 * 2026-12 (ADD onto `..`, COPY over a symlink, the plain chroot runner's mounts).
 */
export const BUILDER_SEMANTICS = 2;

/** A RUN mount's identity: what is bound and how, never a secret's content nor a cache's. BuildKit's ExecOp key has the same. */
export interface MountIdentity {
  type: 'bind' | 'cache' | 'secret' | 'ssh' | 'tmpfs';
  target: string;
  /** bind: the source's key (context content digest, stage key or image digest); cache: the id; secret/ssh: the id only. */
  source?: string;
  readonly?: boolean;
  /** cache. */
  sharing?: string;
  /** cache: what a new cache is seeded with (from=/source=), by content as a bind's source. */
  seed?: string;
  /** cache, secret, ssh: the owner and mode the mount is given. */
  uid?: number;
  gid?: number;
  mode?: number;
  /** secret, ssh. */
  required?: boolean;
  /** tmpfs. */
  sizeBytes?: number;
}

export interface RunKeyFields {
  kind: 'RUN';
  /** The argv that runs (SHELL applied, heredocs included). */
  argv: readonly string[];
  /** NAME=value the step sees: the image's Env and the ARGs in scope, minus the proxy ARGs (as BuildKit). Sorted by name. */
  env: readonly string[];
  user: string;
  workdir: string;
  network: string;
  security: string;
  mounts: readonly MountIdentity[];
}

export interface CopyKeyFields {
  kind: 'COPY' | 'ADD';
  /** The instruction as the image's history shows it (sources as written, flags, destination), after expansion. */
  instruction: string;
  /** Digest of the sources' listing: path, type, mode, owner, link target and content digest of each, after .dockerignore and --exclude. */
  sources: Digest;
  /** The source stage's key or image digest for --from; undefined for the context. */
  from?: string;
  dest: string;
  /** The working directory a relative destination is resolved against. */
  workdir: string;
  chown?: string;
  chmod?: string;
  /** --exclude patterns (the listing of context sources already leaves them out; --from sources are not listed). */
  excludes: readonly string[];
  link: boolean;
  parents: boolean;
  /** ADD only. */
  checksum?: string;
  /** ADD of URLs without --checksum: each URL's content digest and Last-Modified (seconds, null without one), in source order. */
  downloaded?: readonly { content: string; mtime: number | null }[];
  keepGitDir?: boolean;
  unpack?: boolean;
}

/** WORKDIR makes the directory: its result depends on the path and the user that owns it. */
export interface WorkdirKeyFields {
  kind: 'WORKDIR';
  path: string;
  user: string;
}

export type StepKeyFields = RunKeyFields | CopyKeyFields | WorkdirKeyFields;

export interface StepKeyInput {
  /** The key (or base digest) of the filesystem the step starts from. */
  parent: string;
  platform: string;
  /** SOURCE_DATE_EPOCH: it clamps the mtimes in the layer; null without it. */
  epoch: number | null;
  step: StepKeyFields;
}

/** The step's cache key: `sha256:` and the hex digest of the canonical JSON. */
export function stepKey(input: StepKeyInput): Digest {
  const text = canonicalJson({ format: KEY_FORMAT, builder: BUILDER_SEMANTICS, parent: input.parent, platform: input.platform, epoch: input.epoch, step: input.step as unknown as KeyValue });
  return sha256Digest(text);
}

/** The environment a RUN key holds: NAME=value, sorted by name, proxy variables left out (they do not change what the step builds). */
export function runKeyEnv(env: Iterable<readonly [string, string]>, proxyNames: ReadonlySet<string>): string[] {
  const byName = new Map<string, string>();
  for (const [name, value] of env) if (!proxyNames.has(name)) byName.set(name, value);
  return [...byName]
    .sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    .map(([name, value]) => `${name}=${value}`);
}

/** One source of a COPY or ADD as its key sees it: no mtimes. */
export interface ListedSource {
  /** Path relative to the source root, as the layer will name it. */
  path: string;
  kind: string;
  mode: number;
  uid: number;
  gid: number;
  linkTarget?: string;
  /** Regular files: the content's digest. */
  content?: Digest;
  /** Extended attributes the copy keeps: name -> base64 of the value. */
  xattrs?: Record<string, string>;
  /** Device nodes: the numbers the layer gives them (only these entries carry it, so other keys stay as they were). */
  device?: { major: number; minor: number };
}

/** The digest of a COPY/ADD's sources, in the order the step copies them. */
export function listingDigest(entries: readonly ListedSource[]): Digest {
  const text = canonicalJson({ format: 'hoist.cache.sources/v1', entries: entries.map((e) => ({ ...e })) });
  return sha256Digest(text);
}
