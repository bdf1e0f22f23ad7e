/**
 * What the cache dir holds and how to shrink it (`hoist cache du`,
 * `hoist cache prune`). Its parts: `blobs/` (layers, configs and manifests:
 * base images pulled and layers built), `steps/` (one record per step key,
 * see local-store.ts) and small state files such as context file digests.
 *
 * "Last used" is the file's mtime: the blob store and the step cache touch
 * what they read. Pruning removes the least recently used items first; a
 * step record whose blob is gone is a miss, never an error, so records and
 * blobs can go independently. Files being written (`.tmp-*`) and step locks
 * (`*.lock`, `*.lock.takeover`: src/oci/file-lock.ts) are left alone.
 *
 * A `RUN --mount=type=cache` directory (`mounts/<id>`) is one item: removed
 * whole or kept whole, never while a build uses it (cache-mount-uses.ts).
 * Its last use is the newest mtime in it. What a killed build left there
 * (`mounts/.new-*`, `.prune-*`) is removed by every prune once its owner is
 * gone or it is a day old; one being made by a live build is left alone.
 */
import type { Dirent } from 'node:fs';
import { lstat, readdir, rm, unlink } from 'node:fs/promises';
import path from 'node:path';
import { errnoOf } from '../../fs-errors.js';
import { removeCacheDir, staleCacheTemps } from '../run/mounts/cache-mount-uses.js';

export type CachePart = 'blobs' | 'steps' | 'mounts' | 'other';

const MOUNTS_DIR = 'mounts';

export interface CacheItem {
  part: CachePart;
  file: string;
  bytes: number;
  lastUsedMs: number;
}

export interface PartUsage {
  items: number;
  bytes: number;
}

export type CacheUsage = Record<CachePart, PartUsage> & { total: PartUsage };

export interface PruneOptions {
  /** Remove items last used longer ago than this. */
  olderThanMs?: number;
  /** Then remove the least recently used until at most this many bytes remain. */
  keepBytes?: number;
  now?: number;
}

export interface PruneResult {
  removed: PartUsage;
  kept: PartUsage;
}

/** The entries of `dir`; none when it does not exist (a cache part not made yet). */
async function entriesOf(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENOTDIR') return [];
    throw err;
  }
}

async function listFiles(dir: string, skip?: string): Promise<string[]> {
  const entries = await entriesOf(dir);
  const files: string[] = [];
  for (const e of entries) {
    // Files being written, and the locks of steps being built, belong to a build that runs now.
    if (e.name.startsWith('.tmp-') || e.name.endsWith('.lock') || e.name.endsWith('.lock.takeover')) continue;
    const full = path.join(dir, e.name);
    if (full === skip) continue;
    if (e.isDirectory()) files.push(...(await listFiles(full)));
    else if (e.isFile()) files.push(full);
  }
  return files;
}

function partOf(root: string, file: string): CachePart {
  const top = path.relative(root, file).split(path.sep)[0];
  return top === 'blobs' ? 'blobs' : top === 'steps' ? 'steps' : 'other';
}

/** Bytes and newest mtime of the tree at `dir` (never following a symlink). */
async function treeUsage(dir: string): Promise<{ bytes: number; lastUsedMs: number }> {
  const st = await lstat(dir);
  let bytes = 0;
  let lastUsedMs = st.mtimeMs;
  const pending = [dir];
  for (let d = pending.pop(); d !== undefined; d = pending.pop()) {
    const entries = await readdir(d, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const full = path.join(d, e.name);
      const est = await lstat(full).catch(() => undefined);
      if (est === undefined) continue;
      lastUsedMs = Math.max(lastUsedMs, est.mtimeMs);
      if (est.isDirectory()) pending.push(full);
      else bytes += est.size;
    }
  }
  return { bytes, lastUsedMs };
}

/** Each cache mount directory under `mounts/`, as one item. */
async function mountItems(mountsDir: string): Promise<CacheItem[]> {
  const entries = await entriesOf(mountsDir);
  const items: CacheItem[] = [];
  for (const e of entries) {
    if (!e.isDirectory() || e.name.startsWith('.')) continue;
    const file = path.join(mountsDir, e.name);
    const usage = await treeUsage(file).catch(() => undefined);
    if (usage !== undefined) items.push({ part: 'mounts', file, ...usage });
  }
  return items;
}

/** Every file of the cache under `root` with its size and last use; each cache mount directory as one item. */
export async function cacheItems(root: string): Promise<CacheItem[]> {
  const mountsDir = path.join(root, MOUNTS_DIR);
  const items: CacheItem[] = [];
  for (const file of await listFiles(root, mountsDir)) {
    const st = await lstat(file).catch(() => undefined);
    if (st === undefined || !st.isFile()) continue;
    items.push({ part: partOf(root, file), file, bytes: st.size, lastUsedMs: st.mtimeMs });
  }
  items.push(...(await mountItems(mountsDir)));
  return items;
}

export function usageOf(items: readonly CacheItem[]): CacheUsage {
  const usage: CacheUsage = { blobs: { items: 0, bytes: 0 }, steps: { items: 0, bytes: 0 }, mounts: { items: 0, bytes: 0 }, other: { items: 0, bytes: 0 }, total: { items: 0, bytes: 0 } };
  for (const i of items) {
    usage[i.part].items++;
    usage[i.part].bytes += i.bytes;
    usage.total.items++;
    usage.total.bytes += i.bytes;
  }
  return usage;
}

/** Which items `options` removes: everything when no limit is given. */
export function pruneSelection(items: readonly CacheItem[], options: PruneOptions): CacheItem[] {
  if (options.olderThanMs === undefined && options.keepBytes === undefined) return [...items];
  const now = options.now ?? Date.now();
  const byAge = [...items].sort((a, b) => a.lastUsedMs - b.lastUsedMs);
  const chosen = new Set<CacheItem>();
  if (options.olderThanMs !== undefined) {
    for (const i of byAge) if (now - i.lastUsedMs > options.olderThanMs) chosen.add(i);
  }
  if (options.keepBytes !== undefined) {
    let left = byAge.filter((i) => !chosen.has(i)).reduce((n, i) => n + i.bytes, 0);
    for (const i of byAge) {
      if (left <= options.keepBytes) break;
      if (chosen.has(i)) continue;
      chosen.add(i);
      left -= i.bytes;
    }
  }
  return byAge.filter((i) => chosen.has(i));
}

async function removeItem(item: CacheItem): Promise<boolean> {
  if (item.part === 'mounts') {
    return removeCacheDir(item.file);
  }
  try {
    await unlink(item.file);
    return true;
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw err;
    return false;
  }
}

/** Remove what `options` selects from the cache under `root`. */
export async function pruneCache(root: string, options: PruneOptions): Promise<PruneResult> {
  const items = await cacheItems(root);
  const selected = pruneSelection(items, options);
  const removed: CacheItem[] = [];
  for (const i of selected) if (await removeItem(i)) removed.push(i);
  // Left by a killed build: garbage whatever the limits.
  for (const dir of await staleCacheTemps(path.join(root, MOUNTS_DIR), options.now ?? Date.now())) {
    const usage = await treeUsage(dir).catch(() => ({ bytes: 0, lastUsedMs: 0 }));
    await rm(dir, { recursive: true, force: true });
    removed.push({ part: 'mounts', file: dir, ...usage });
  }
  const gone = new Set(removed);
  return { removed: usageOf(removed).total, kept: usageOf(items.filter((i) => !gone.has(i))).total };
}
