import { createReadStream } from 'node:fs';
import path from 'node:path';
import type { AddInstr } from '../../dockerfile/instructions/types.js';
import { archiveEntries, detectArchive } from '../add/archive.js';
import { isHttpSource } from '../add/source-kind.js';
import { urlFileName } from '../add/url-source.js';
import { CopyPlanner, type CopyItem } from '../copy/copy-entries.js';
import type { SourceFs } from '../copy/source-fs.js';
import type { StepContext } from '../executor/step-context.js';
import { noSourceFiles } from '../copy/resolve-sources.js';
import { copyLayout, describeCopy, heredocItems, matchSource, sourceFsFor } from './copy-sources.js';

/**
 * ADD is COPY plus two things: a local tar archive (plain, gzip, bzip2 or
 * xz, recognised by its content) is extracted into the destination, and a
 * URL is downloaded (mode 0600; `--checksum` verified; not extracted unless
 * --unpack=true).
 */
export async function handleAdd(ctx: StepContext, instr: AddInstr): Promise<void> {
  const fs = await sourceFsFor(ctx, instr);
  const layout = await copyLayout(ctx, instr);
  const cleanups: Array<() => Promise<void>> = [];
  try {
    const items: CopyItem[] = [];
    // As for COPY, a wildcard may match nothing as long as some source gives something.
    for (const source of instr.sources) {
      if (isHttpSource(source)) {
        items.push(await urlItem(ctx, instr, source, cleanups, layout.owner));
        continue;
      }
      for (const item of await matchSource(instr, fs, source)) {
        items.push(instr.unpack === false ? item : await maybeExtract(ctx, fs, item, cleanups, layout.owner));
      }
    }
    if (instr.sources.length > 0 && items.length === 0) throw noSourceFiles(fs, instr.sources, instr.kind);
    items.push(...heredocItems(ctx, instr));
    const planner = new CopyPlanner(layout, itemsNeedingDirectory(items));
    for (const item of items) await planner.add(item);
    await ctx.addLayer(planner.entries(), describeCopy(instr));
  } finally {
    for (const cleanup of cleanups) await cleanup();
  }
}

/**
 * The item count CopyPlanner checks against a destination without a
 * trailing slash. BuildKit itself never refuses several sources: its file
 * op (solver/llbsolver/file/backend.go docopy) handles each wildcard match
 * on its own, unpacking an archive into the destination (which it creates
 * as a directory) and copying a directory's contents into it. So when every
 * item is an extracted archive or a directory, `ADD *.tar /dest` and
 * `ADD --exclude=... dir* /dest` put them all into /dest. Several plain
 * files, or files mixed with archives or directories, still need `dest/`:
 * BuildKit would copy each file onto the same path in turn (the last one
 * wins) or fail half-way depending on the order, which is not worth
 * reproducing; Docker's classic builder refused them too.
 */
function itemsNeedingDirectory(items: readonly CopyItem[]): number {
  const intoDirectory = (item: CopyItem): boolean => item.kind === 'tree' || (item.kind === 'match' && item.match.node.kind === 'dir');
  return items.every(intoDirectory) ? Math.min(items.length, 1) : items.length;
}

async function maybeExtract(
  ctx: StepContext,
  fs: SourceFs,
  item: CopyItem,
  cleanups: Array<() => Promise<void>>,
  owner: { uid: number; gid: number } | undefined,
): Promise<CopyItem> {
  if (item.kind !== 'match' || item.match.node.kind !== 'file' || fs.absolutePath === undefined) return item;
  return (await extractIfArchive(ctx, fs.absolutePath(item.match.realRel), cleanups, owner)) ?? item;
}

/** `file`'s members as a tree when it is an archive (detected by content), else undefined. */
async function extractIfArchive(
  ctx: StepContext,
  file: string,
  cleanups: Array<() => Promise<void>>,
  owner: { uid: number; gid: number } | undefined,
): Promise<CopyItem | undefined> {
  const format = await detectArchive(file);
  if (format === null) return undefined;
  const extracted = await archiveEntries(file, '', { format, spoolDir: ctx.env.tmpDir, ...(owner ?? {}), ...(ctx.env.signal ? { signal: ctx.env.signal } : {}) });
  cleanups.push(() => extracted.cleanup());
  return { kind: 'tree', entries: extracted.entries };
}

async function urlItem(
  ctx: StepContext,
  instr: AddInstr,
  url: string,
  cleanups: Array<() => Promise<void>>,
  owner: { uid: number; gid: number } | undefined,
): Promise<CopyItem> {
  // The build's own download (the cache key may have made it), removed with the build's scratch directory.
  const downloaded = await ctx.env.download(url, instr.checksum || undefined);
  const tree = instr.unpack === true ? await extractIfArchive(ctx, downloaded.path, cleanups, owner) : undefined;
  if (tree !== undefined) return tree;
  return {
    kind: 'file',
    name: path.posix.basename(downloaded.filename || urlFileName(url)),
    node: {
      kind: 'file', mode: 0o600, uid: 0, gid: 0, mtime: downloaded.mtime ?? ctx.createdMtime(), size: downloaded.size,
      open: () => createReadStream(downloaded.path),
    },
    keepOwner: false,
  };
}
