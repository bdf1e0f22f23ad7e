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
import { mkdir } from 'node:fs/promises';
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
import type { LayerEntry } from '../../../../snapshot/layer-entry.js';
import type { Readable } from 'node:stream';

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

/** What COPY would lay out for `source` of `from` at `/`: the entries, and where a file source lands. */
async function planMountSource(ctx: StepContext, from: string | undefined, source: string): Promise<{ entries: LayerEntry[]; fileName: string | undefined }> {
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
  return { entries: planner.entries(), fileName: match.node.kind === 'dir' ? undefined : posix.basename(match.realRel) };
}

/**
 * A copy of `source` of `from` in the new directory `dir` (which must not
 * exist); returns the path to bind: `dir`, or `dir/<name>` for a file source.
 */
export async function copyMountSource(ctx: StepContext, from: string | undefined, source: string, dir: string): Promise<string> {
  const { entries, fileName } = await planMountSource(ctx, from, source);
  await mkdir(dir, { mode: 0o755 });
  await applyLayers(dir, [createTarStream(entries)], ctx.env.signal ? { signal: ctx.env.signal } : {});
  return fileName === undefined ? dir : path.join(dir, fileName);
}

/**
 * The identity of `source` of `from` for a cache key: every entry as the
 * copy would have it (path, kind, mode, owner, link target, content
 * digest), no times. Reads the source; writes nothing.
 */
export async function mountSourceIdentity(ctx: StepContext, from: string | undefined, source: string): Promise<Digest> {
  const { entries } = await planMountSource(ctx, from, source);
  const listed: ListedSource[] = [];
  for (const e of entries) {
    if (e.kind === 'whiteout' || e.kind === 'opaque') continue;
    const base = { path: e.path, kind: e.kind, mode: e.mode, uid: e.uid, gid: e.gid };
    if (e.kind === 'file') listed.push({ ...base, content: await streamDigest(e.open()) });
    else if (e.kind === 'symlink') listed.push({ ...base, linkTarget: e.linkname });
    else if (e.kind === 'hardlink') listed.push({ ...base, linkTarget: e.target });
    else listed.push(base);
  }
  return listingDigest(listed);
}

function streamDigest(stream: Readable): Promise<Digest> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    stream
      .on('data', (c: Buffer) => hash.update(c))
      .on('error', reject)
      .on('end', () => resolve(`sha256:${hash.digest('hex')}`));
  });
}
