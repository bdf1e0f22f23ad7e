/**
 * The files a bind or cache mount reads (`from=` a stage or an image, else
 * the build context; `source=` a path in it), put in a directory of hoist's
 * own for the step: the step gets a copy, so a read-write bind's writes are
 * discarded with it, the context is seen as .dockerignore leaves it, and
 * no runner can reach a file outside the source through a symlink. The
 * copy is made as COPY makes a layer (same source readers, same rules),
 * then unpacked with the layer applier.
 */
import { chmod, mkdir } from 'node:fs/promises';
import { posix } from 'node:path';
import path from 'node:path';
import { FsView } from '../../../../snapshot/fs-view.js';
import { createTarStream } from '../../../../snapshot/layer-tar.js';
import { applyLayers } from '../../../../snapshot/rootfs/index.js';
import { HoistError } from '../../../errors.js';
import type { Digest } from '../../../oci/digest.js';
import type { FileDigests } from '../../cache/file-digests.js';
import { entriesDigest, ListingFs } from '../../executor/step-keys.js';
import { CopyPlanner } from '../../copy/copy-entries.js';
import { resolveSources } from '../../copy/resolve-sources.js';
import { ContextFs, ViewFs, type SourceFs } from '../../copy/source-fs.js';
import type { StepContext } from '../../executor/step-context.js';
import type { LayerEntry } from '../../../../snapshot/layer-entry.js';

/** Where `from` is read: the context (remembering each file's path on disk, for FileDigests), a stage of this build, or an image. */
async function sourceFs(ctx: StepContext, from: string | undefined): Promise<SourceFs> {
  if (from === undefined) return new ListingFs(new ContextFs(ctx.env.contextDir, ctx.env.ignore, null));
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

/** What COPY would lay out for `source` of `from` at `/`: the entries, where a file source lands, and what read them. */
async function planMountSource(ctx: StepContext, from: string | undefined, source: string): Promise<{ entries: LayerEntry[]; fileName: string | undefined; fs: SourceFs }> {
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
  return { entries: planner.entries(), fileName: match.node.kind === 'dir' ? undefined : posix.basename(match.realRel), fs };
}

/**
 * A copy of `source` of `from` in the new directory `dir` (which must not
 * exist); returns the path to bind: `dir`, or `dir/<name>` for a file source.
 */
export async function copyMountSource(ctx: StepContext, from: string | undefined, source: string, dir: string): Promise<string> {
  const { entries, fileName } = await planMountSource(ctx, from, source);
  await mkdir(dir);
  await chmod(dir, 0o755); // the bound directory's own mode, as BuildKit gives it, whatever hoist's umask
  await applyLayers(dir, [createTarStream(entries)], ctx.env.signal ? { signal: ctx.env.signal } : {});
  return fileName === undefined ? dir : path.join(dir, fileName);
}

/**
 * The identity of `source` of `from` for a cache key: every entry as the
 * copy would have it, listed as a COPY key lists its sources (step-keys.ts),
 * no times; a context file is hashed again only when its stat changed
 * (`digests`). Reads the source; writes nothing.
 */
export async function mountSourceIdentity(ctx: StepContext, from: string | undefined, source: string, digests: FileDigests, listings?: ListingFs[]): Promise<Digest> {
  const { entries, fs } = await planMountSource(ctx, from, source);
  if (fs instanceof ListingFs) listings?.push(fs);
  return entriesDigest(entries, fs instanceof ListingFs ? fs : undefined, digests);
}
