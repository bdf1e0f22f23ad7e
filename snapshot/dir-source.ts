/**
 * LayerEntry values from a real directory tree: a whole tree as one layer
 * (bench/layer's writer; the rootfs tests). Builds list their layers
 * otherwise: COPY through the context's source readers, RUN snapshots
 * through snapshot/walk and snapshot/overlay, which share file-content.ts.
 *
 * - lstat only: symlinks are recorded, never followed, so the walk cannot
 *   leave `root`. Requested paths are normalised (`..` and absolute paths are
 *   refused) and their ancestors must be real directories.
 * - Files with more than one link become hard-link groups keyed by dev+ino.
 * - Sockets are skipped (they cannot live in a tar); everything else keeps
 *   its mode bits (setuid/setgid/sticky too), numeric owner and mtime.
 * - File content is opened with O_NOFOLLOW and must still be the inode the
 *   walk saw (FILE_CHANGED otherwise; file-content.ts). Small files are read
 *   during the walk, stat'ed through the same open; large ones stream when
 *   the writer reaches them.
 * - The walk's system calls are synchronous, as in snapshot/walk (scope.ts
 *   says why), handing the event loop a turn every few milliseconds: through
 *   the thread pool each small file took six round trips, queued behind the
 *   gzip blocks that share the pool (bench/layer).
 * - Entries come in layer order (each directory read in byte order, depth
 *   first), lazily: pass `ordered: true` to the writer and the walk and the
 *   write proceed together, in memory independent of the tree's size.
 *
 * - Extended attributes are read as layers carry them (snapshot/xattrs.ts),
 *   a symlink's own.
 *
 * Not read: file names that are not valid UTF-8.
 */
import { lstatSync, readdirSync, readlinkSync, type BigIntStats } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { HoistError } from '../src/errors.js';
import { openRegularFileSync, readSmallFileSync, streamFile, type OpenedFile } from './file-content.js';
import { readXattrsSync } from './xattrs.js';
import { Slicer } from './walk/scope.js';
import type { LayerEntry } from './layer-entry.js';
import { ancestorsOf, normalizeLayerPath, orderKey } from './layer-path.js';

export interface DirectorySourceOptions {
  /**
   * Only these paths (relative to root) and, for directories, everything
   * below them; their ancestors are included as directory entries with
   * their real metadata, so applying the layer does not reset them. Default:
   * the whole tree (without the root itself).
   */
  paths?: readonly string[];
}

export async function* entriesFromDirectory(
  root: string,
  opts: DirectorySourceOptions = {},
): AsyncGenerator<LayerEntry, void, undefined> {
  const base = await realpath(root);
  const rootStat = lstatSync(base);
  if (!rootStat.isDirectory()) throw new HoistError('NOT_A_DIRECTORY', `${root} is not a directory`);

  const starts = opts.paths === undefined ? [''] : startPaths(opts.paths);
  // Starts are sorted and none is below another, so only ancestors can be
  // shared, and only with the start just before.
  let shared = new Set<string>();
  const slicer = new Slicer();
  for (const start of starts) {
    const ancestors = start === '' ? [] : ancestorsOf(start);
    for (const dir of ancestors) {
      if (shared.has(dir)) continue;
      const st = lstatIn(base, dir);
      if (!st.isDirectory()) {
        throw new HoistError('UNSAFE_PATH', `${dir} is not a directory under ${root}; refusing to look through it for ${start}`);
      }
      yield dirEntry(base, dir, st);
    }
    shared = new Set(ancestors);
    yield* walk(base, start, slicer);
  }
}

/** Normalised, deduplicated, and without paths already covered by an ancestor in the list. */
function startPaths(paths: readonly string[]): string[] {
  const normal = paths.map((p) => (p.split('/').every((c) => c === '' || c === '.') ? '' : normalizeLayerPath(p)));
  if (normal.includes('')) return [''];
  const sorted = [...new Set(normal)].sort((a, b) => Buffer.compare(orderKey(a), orderKey(b)));
  const out: string[] = [];
  for (const p of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && p.startsWith(`${last}/`)) continue;
    out.push(p);
  }
  return out;
}

/** Files up to this size are read during the walk; larger ones stream when written. */
const PREFETCH_MAX = 64 * 1024;

/** `start` (unless it is the root) and everything below it, depth first. */
async function* walk(base: string, start: string, slicer: Slicer): AsyncGenerator<LayerEntry, void, undefined> {
  if (start !== '') {
    const st = lstatIn(base, start);
    const entry = toEntry(base, start, st);
    if (entry !== null) yield entry;
    if (!st.isDirectory()) return;
  }
  yield* walkDir(base, start, slicer);
}

async function* walkDir(base: string, dir: string, slicer: Slicer): AsyncGenerator<LayerEntry, void, undefined> {
  const names = readdirSync(join(base, dir), { withFileTypes: true })
    .map((d) => ({ rel: dir === '' ? d.name : `${dir}/${d.name}`, key: Buffer.from(d.name), file: d.isFile() }))
    .sort((a, b) => Buffer.compare(a.key, b.key));
  for (const { rel, file } of names) {
    await slicer.maybeYield();
    // A regular file is stat'ed through the open that reads it (file-content.ts says why).
    const opened = file ? openRegularFileSync(join(base, rel), PREFETCH_MAX) : undefined;
    const st = opened?.stat ?? lstatIn(base, rel);
    const entry = toEntry(base, rel, st, opened);
    if (entry !== null) yield entry;
    if (st.isDirectory()) yield* walkDir(base, rel, slicer);
  }
}

function lstatIn(base: string, rel: string): BigIntStats {
  try {
    return lstatSync(join(base, rel), { bigint: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new HoistError('NOT_FOUND', `${rel} does not exist under ${base}`, { cause: err });
    }
    throw err;
  }
}

/** `opened`: the file's stat and small content from openRegularFileSync, when it came that way. */
function toEntry(base: string, rel: string, st: BigIntStats, opened?: OpenedFile): LayerEntry | null {
  if (st.isSocket()) return null;
  const xattrs = readXattrsSync(join(base, rel));
  const meta = { path: rel, mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid), mtime: seconds(st.mtimeNs), ...(xattrs ? { xattrs } : {}) };
  if (st.isFile()) {
    const abs = join(base, rel);
    const size = Number(st.size);
    const id = { dev: st.dev, ino: st.ino };
    const content = opened?.content ?? (size > 0 && size <= PREFETCH_MAX ? readSmallFileSync(abs, rel, size, id) : undefined);
    const file: LayerEntry =
      content === undefined
        ? { ...meta, kind: 'file', size, open: () => streamFile(abs, rel, size, id) }
        : { ...meta, kind: 'file', size, readWhole: () => content, open: () => Readable.from([content]) };
    if (st.nlink > 1n) file.linkKey = `${st.dev}:${st.ino}`;
    return file;
  }
  if (st.isDirectory()) return { ...meta, kind: 'dir' };
  if (st.isSymbolicLink()) return { ...meta, kind: 'symlink', linkname: readlinkSync(join(base, rel)) };
  if (st.isFIFO()) return { ...meta, kind: 'fifo' };
  if (st.isCharacterDevice() || st.isBlockDevice()) {
    return { ...meta, kind: st.isCharacterDevice() ? 'char-device' : 'block-device', ...splitDevice(st.rdev) };
  }
  return null; // a type lstat has no name for
}

function dirEntry(base: string, rel: string, st: BigIntStats): LayerEntry {
  return toEntry(base, rel, st) as LayerEntry;
}

/** Floor, also before 1970. */
export function seconds(ns: bigint): number {
  const s = ns / 1_000_000_000n;
  return Number(ns < 0n && s * 1_000_000_000n !== ns ? s - 1n : s);
}

/** Linux's dev_t encoding (glibc gnu_dev_major/gnu_dev_minor). */
export function splitDevice(rdev: bigint): { devmajor: number; devminor: number } {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & 0xfffff000n);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & 0xffffff00n);
  return { devmajor: Number(major), devminor: Number(minor) };
}
