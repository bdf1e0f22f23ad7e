/**
 * The cache key fields of one step, from the instruction (expanded) and the
 * stage as it is when the step starts. Only steps that change files have
 * keys (RUN, COPY, ADD, WORKDIR); the others are replayed.
 *
 * ADD of a URL without --checksum is keyed by what it downloaded (the
 * download is made for the key, and the step copies that very file). A step
 * whose result cannot be known before it runs (ADD of a git repository)
 * has no key: it always runs, and the steps after it are keyed on the
 * layer it made (see StepCacheSession).
 */
import { createHash } from 'node:crypto';
import { lstatSync } from 'node:fs';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { FsView } from '../../../snapshot/fs-view.js';
import { xattrsBase64, type LayerEntry, type Xattrs } from '../../../snapshot/layer-entry.js';
import type { AddInstr, CopyInstr, Instruction } from '../../dockerfile/instructions/types.js';
import { PatternMatcher } from '../../dockerfile/ignore/index.js';
import { HoistError } from '../../errors.js';
import type { Digest } from '../../oci/digest.js';
import { mapLimit } from '../../oci/parallel.js';
import { isGitSource, isHttpSource } from '../add/source-kind.js';
import type { FileDigests, WalkedFile } from '../cache/file-digests.js';
import { listingDigest, runKeyEnv, type CopyKeyFields, type ListedSource, type StepKeyFields } from '../cache/step-key.js';
import { CopyPlanner, type CopyItem } from '../copy/copy-entries.js';
import { ContextFs, contextFollowPaths, type SourceFs, type SourceNode, type XattrRecords } from '../copy/source-fs.js';
import { heredocScriptIdentity, runArgv } from '../handlers/run-argv.js';
import { describeCopy, heredocItems, matchSource, stepContextFs } from '../handlers/copy-sources.js';
import type { StepContext } from './step-context.js';

/** What a key needs beyond the step: content digests, and the keys of what COPY --from reads. */
export interface KeySources {
  digests: FileDigests;
  /** The key of a finished stage's files. */
  stageKey(index: number): string;
  /** The manifest digest of an image COPY --from reads. */
  imageDigest(ref: string): Promise<Digest>;
  /** Where the context listings a key was made from are handed, so that the step can see whether their files changed since (`changedSince`). */
  listings?: ListingFs[];
}

/** The step's key fields; undefined when the step has no key (it always runs). */
export async function stepKeyFields(ctx: StepContext, instr: Instruction, sources: KeySources): Promise<StepKeyFields | undefined> {
  const { stage } = ctx;
  switch (instr.kind) {
    case 'RUN':
      return {
        kind: 'RUN',
        argv: runArgv(instr, stage.config.Shell),
        env: runKeyEnv(ctx.planned.env, new Set(ctx.env.proxyEnv.keys())),
        user: stage.config.User ?? '',
        workdir: stage.workdir(),
        network: instr.network ?? 'default',
        security: instr.security ?? 'sandbox',
        // What a bind mount shows (by content), a cache's id, a secret's id (never its content); the mount code loads only for a RUN with mounts.
        mounts: [
          ...heredocScriptIdentity(instr),
          ...(instr.mounts.length > 0 ? await (await import('../run/mounts/step-mounts.js')).runMountIdentities(ctx, instr, stage.workdir(), sources) : []),
        ],
      };
    case 'WORKDIR':
      return { kind: 'WORKDIR', path: posix.resolve(stage.workdir(), instr.path), user: stage.config.User ?? '' };
    case 'COPY':
    case 'ADD':
      return copyKeyFields(ctx, instr, sources);
    default:
      return undefined;
  }
}

async function copyKeyFields(ctx: StepContext, instr: CopyInstr | AddInstr, sources: KeySources): Promise<CopyKeyFields | undefined> {
  const add = instr.kind === 'ADD' ? instr : undefined;
  if (instr.sources.some(isGitSource)) return undefined;
  // A download is known by its checksum; without one, by what it downloaded and its Last-Modified (BuildKit's HTTP source key), made here once for the step too.
  let downloaded: { content: string; mtime: number | null }[] | undefined;
  if (add !== undefined && !add.checksum && instr.sources.some(isHttpSource)) {
    try {
      downloaded = [];
      for (const url of instr.sources.filter(isHttpSource)) {
        // Last-Modified is the file's mtime in the layer: in the key, as in BuildKit's.
        const { digest, mtime } = await ctx.env.download(url, undefined);
        downloaded.push({ content: digest, mtime: mtime ?? null });
      }
    } catch (err) {
      // The step reports the failure itself (the same one: the download is made once).
      if (err instanceof HoistError) return undefined;
      throw err;
    }
  }
  let from: string | undefined;
  let items: CopyItem[] = heredocItems(ctx, instr);
  let fs: ListingFs | undefined;
  if (instr.from !== undefined && instr.from !== '') {
    // The source's key stands for all of its files: nothing is listed.
    const index = ctx.planned.fromStage;
    from = index !== undefined ? `stage:${sources.stageKey(index)}` : `image:${await sources.imageDigest(instr.from)}`;
  } else {
    const local = instr.sources.filter((s) => !isHttpSource(s));
    fs = new ListingFs(stepContextFs(ctx, contextFollowPaths(local)), sources.digests);
    sources.listings?.push(fs);
    try {
      const matched: CopyItem[] = [];
      for (const source of local) matched.push(...(await matchSource(instr, fs, source)));
      items = [...matched, ...items];
    } catch (err) {
      // The step itself reports what is wrong with its sources, as it would without the cache.
      if (err instanceof HoistError) return undefined;
      throw err;
    }
  }
  return {
    kind: instr.kind,
    instruction: describeCopy(instr),
    sources: await listing(items, instr, fs, sources.digests),
    ...(from !== undefined ? { from } : {}),
    dest: instr.dest,
    workdir: ctx.stage.workdir(),
    ...(instr.chown !== undefined ? { chown: instr.chown } : {}),
    ...(instr.chmod !== undefined ? { chmod: instr.chmod } : {}),
    excludes: instr.excludes,
    link: instr.link,
    parents: instr.parents,
    ...(add !== undefined
      ? { ...(add.checksum !== undefined ? { checksum: add.checksum } : {}), keepGitDir: add.keepGitDir, ...(add.unpack !== undefined ? { unpack: add.unpack } : {}) }
      : {}),
    ...(downloaded !== undefined ? { downloaded } : {}),
  };
}

/**
 * The digest of what the sources put in the layer, laid out as COPY lays
 * them out (directory contents, .dockerignore, --exclude, --parents) below
 * an empty destination: path, type, mode, owner, link target and content
 * digest of each, never mtimes. Owners and modes are the sources' own:
 * --chown and --chmod are key fields of their own.
 */
async function listing(items: readonly CopyItem[], instr: CopyInstr | AddInstr, fs: ListingFs | undefined, digests: FileDigests): Promise<Digest> {
  const planner = new CopyPlanner(
    {
      what: instr.kind,
      dest: '/',
      workdir: '/',
      view: FsView.empty(),
      owner: undefined,
      chmod: undefined,
      excludes: instr.excludes.length ? PatternMatcher.compile(instr.excludes) : undefined,
      createdMtime: 0,
    },
    1,
  );
  for (const item of items) await planner.add(item);
  return entriesDigest(planner.entries(), fs, digests);
}

/**
 * The digest of entries laid out by a CopyPlanner (a COPY's sources, a RUN
 * mount's source): path, type, mode, owner, link target, xattrs and content
 * digest of each, never mtimes. The content of a file `fs` read from the
 * context comes from `digests` (hashed again only when its stat changed).
 */
export async function entriesDigest(entries: readonly LayerEntry[], fs: ListingFs | undefined, digests: FileDigests): Promise<Digest> {
  // Stats (and the few hashes) overlap: one at a time, each waits a thread-pool round trip.
  const listed: ListedSource[] = await mapLimit(entries, 32, (entry) => listedEntry(entry, fs, digests));
  // Files that are hard links of one another become links in the layer: the first one's path says which.
  const firstOfLink = new Map<string, string>();
  for (const [i, entry] of entries.entries()) {
    if (entry.kind !== 'file' || entry.linkKey === undefined) continue;
    const first = firstOfLink.get(entry.linkKey);
    if (first === undefined) firstOfLink.set(entry.linkKey, entry.path);
    else listed[i] = { ...(listed[i] as ListedSource), linkTarget: first };
  }
  return listingDigest(listed);
}

async function listedEntry(entry: LayerEntry, fs: ListingFs | undefined, digests: FileDigests): Promise<ListedSource> {
  if (entry.kind === 'whiteout' || entry.kind === 'opaque') return { path: entry.path, kind: entry.kind, mode: 0, uid: 0, gid: 0 };
  const base = { path: entry.path, kind: entry.kind, mode: entry.mode, uid: entry.uid, gid: entry.gid, ...xattrsOf(entry.xattrs) };
  switch (entry.kind) {
    case 'symlink':
      return { ...base, linkTarget: entry.linkname };
    case 'hardlink':
      return { ...base, linkTarget: entry.target };
    case 'file': {
      const file = fs?.fileOf(entry.open);
      return {
        ...base,
        content: file !== undefined ? await digests.digest(file.absPath, file.walked).catch(() => streamDigest(entry.open())) : await streamDigest(entry.open()),
      };
    }
    case 'char-device':
    case 'block-device':
      return { ...base, device: { major: entry.devmajor, minor: entry.devminor } };
    default:
      return base;
  }
}

function xattrsOf(xattrs: Xattrs | undefined): { xattrs?: Record<string, string> } {
  const encoded = xattrsBase64(xattrs);
  return Object.keys(encoded).length === 0 ? {} : { xattrs: encoded };
}

/** The SHA-256 of what `stream` gives. */
export async function streamDigest(stream: Readable): Promise<Digest> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

/**
 * The context, remembering where each regular file it hands out is on disk
 * and what the walk saw of it (the copy keeps the node's `open`), for
 * FileDigests; files' xattrs come from `records` where they hold.
 */
export class ListingFs implements SourceFs {
  readonly description: string;
  readonly keepsOwners: boolean;
  readonly mayReinclude: boolean;
  readonly absolutePath: ((rel: string) => string) | undefined;
  private readonly files = new Map<() => Readable, { absPath: string; walked?: WalkedFile }>();

  constructor(
    private readonly inner: ContextFs,
    private readonly records?: XattrRecords,
  ) {
    this.description = inner.description;
    this.keepsOwners = inner.keepsOwners;
    this.mayReinclude = inner.mayReinclude;
    this.absolutePath = inner.absolutePath;
  }

  async lstat(rel: string): Promise<SourceNode | undefined> {
    const found = await this.inner.lstatWalked(rel, this.records);
    if (found === undefined) return undefined;
    const { node, file } = found;
    // A socket (COPY makes it an empty file) has no `file`: FileDigests fails on it and the listing reads the node.
    if (node.kind === 'file') this.files.set(node.open, file ?? { absPath: this.inner.absolutePath(rel) });
    return node;
  }

  readdir(rel: string): Promise<string[]> {
    return this.inner.readdir(rel);
  }

  isIgnored(rel: string): boolean {
    return this.inner.isIgnored(rel);
  }

  fileOf(open: () => Readable): { absPath: string; walked?: WalkedFile } | undefined {
    return this.files.get(open);
  }

  /**
   * The first file the listing looked up that is no longer what the walk
   * saw (inode, size, modification or change time), or undefined. The key
   * holds the content the files had then; a step that read one after it
   * changed (an editor saving while the build runs) made a layer the key
   * does not describe.
   */
  changedSince(): string | undefined {
    for (const { absPath, walked } of this.files.values()) {
      if (walked === undefined) continue;
      // Synchronous: a few µs each from the inode cache, where a thread-pool trip costs more.
      const now = lstatSync(absPath, { bigint: true, throwIfNoEntry: false });
      const was = walked.stat;
      if (now === undefined || now.ino !== was.ino || now.size !== was.size || now.mtimeNs !== was.mtimeNs || now.ctimeNs !== was.ctimeNs) return absPath;
    }
    return undefined;
  }
}
