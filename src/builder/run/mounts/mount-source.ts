/**
 * The files a bind or cache mount reads (`from=` a stage or an image, else
 * the build context; `source=` a path in it), put in a directory of hoist's
 * own for the step: the step gets a copy, so a read-write bind's writes are
 * discarded with it, the context is seen as .dockerignore leaves it, and
 * no runner can reach a file outside the source through a symlink. The
 * copy is made as COPY makes a layer (same source readers, same rules),
 * then unpacked with the layer applier.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, readdir, readlink } from 'node:fs/promises';
import { posix } from 'node:path';
import path from 'node:path';
import { FsView } from '../../../../snapshot/fs-view.js';
import { createTarStream } from '../../../../snapshot/layer-tar.js';
import { applyLayers } from '../../../../snapshot/rootfs/index.js';
import { HoistError } from '../../../errors.js';
import type { Digest } from '../../../oci/digest.js';
import { listingDigest, type ListedSource } from '../../cache/step-key.js';
import { CopyPlanner } from '../../copy/copy-entries.js';
import { resolveSources } from '../../copy/resolve-sources.js';
import { ContextFs, ViewFs, type SourceFs } from '../../copy/source-fs.js';
import type { StepContext } from '../../executor/step-context.js';

export interface MountSource {
  /** The host path to bind: a directory, or a file for a file source. */
  path: string;
  /** The source's files as a cache key sees them (no mtimes). */
  identity: Digest;
}

/** Where `from` is read: the context, a stage of this build, or an image. */
async function sourceFs(ctx: StepContext, from: string | undefined): Promise<SourceFs> {
  if (from === undefined) return new ContextFs(ctx.env.contextDir, ctx.env.ignore, null);
  const stage = ctx.planned.mountStages?.get(from);
  if (stage !== undefined) return new ViewFs(await ctx.env.stageFiles(stage), `stage ${JSON.stringify(from)}`);
  return new ViewFs(await ctx.env.imageView(from), `image ${JSON.stringify(from)}`);
}

/** `source=` as a path inside the source root; `..` that climbs out of it is refused. */
export function cleanMountSource(source: string, from: string | undefined): string {
  const normal = posix.normalize(source === '' ? '.' : source);
  if (normal === '..' || normal.startsWith('../')) {
    const where = from === undefined ? 'the build context' : `${JSON.stringify(from)}`;
    throw new HoistError('RUN_MOUNT_SOURCE_OUTSIDE', `RUN --mount: source ${JSON.stringify(source)} is outside ${where}`, {
      hint: 'a mount reads only inside its source: give a path inside the build context (or the stage or image from= names), or choose a wider context directory',
    });
  }
  return posix.normalize(`/${normal}`).slice(1).replace(/\/+$/, '') || '.';
}

/**
 * A copy of `source` of `from` in the new directory `dir` (which must not
 * exist). A file source is copied to `dir/<name>`, which is returned.
 */
export async function copyMountSource(ctx: StepContext, from: string | undefined, source: string, dir: string): Promise<MountSource> {
  const rel = cleanMountSource(source, from);
  const fs = await sourceFs(ctx, from);
  const matches = await resolveSources(fs, rel, 'RUN --mount');
  const match = matches[0];
  if (match === undefined || matches.length > 1) {
    throw new HoistError('RUN_MOUNT_SOURCE', `RUN --mount: source ${JSON.stringify(source)} must name one file or directory in ${fs.description}`, {
      hint: 'mount sources take no wildcards: name the directory that holds the files',
    });
  }
  const planner = new CopyPlanner(
    { what: 'COPY', dest: '/', workdir: '/', view: FsView.empty(), owner: undefined, chmod: undefined, excludes: undefined, createdMtime: ctx.createdMtime() },
    1,
  );
  await planner.add({ kind: 'match', fs, match });
  await mkdir(dir, { mode: 0o755 });
  await applyLayers(dir, [createTarStream(planner.entries())], ctx.env.signal ? { signal: ctx.env.signal } : {});
  const isDir = match.node.kind === 'dir';
  const at = isDir ? dir : path.join(dir, posix.basename(match.realRel));
  return { path: at, identity: await treeIdentity(at) };
}

/** The listing digest of the tree at `root` (a directory or one file): path, kind, mode, owner, link target and content of each entry. */
export async function treeIdentity(root: string): Promise<Digest> {
  const listed: ListedSource[] = [];
  async function visit(abs: string, rel: string): Promise<void> {
    const st = await lstat(abs);
    const base = { path: rel, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
    if (st.isDirectory()) {
      listed.push({ ...base, kind: 'dir' });
      const names = (await readdir(abs)).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      for (const name of names) await visit(path.join(abs, name), rel === '' ? name : `${rel}/${name}`);
    } else if (st.isSymbolicLink()) {
      listed.push({ ...base, kind: 'symlink', linkTarget: await readlink(abs) });
    } else if (st.isFile()) {
      listed.push({ ...base, kind: 'file', content: await fileDigest(abs) });
    } else {
      listed.push({ ...base, kind: 'other' });
    }
  }
  await visit(root, '');
  return listingDigest(listed);
}

function fileDigest(file: string): Promise<Digest> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (c) => hash.update(c))
      .on('error', reject)
      .on('end', () => resolve(`sha256:${hash.digest('hex')}`));
  });
}
