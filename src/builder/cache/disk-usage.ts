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
 * (`*.lock`) are left alone.
 */
import { lstat, readdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { errnoOf } from '../../fs-errors.js';

export type CachePart = 'blobs' | 'steps' | 'other';

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

async function listFiles(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENOTDIR') return [];
    throw err;
  }
  const files: string[] = [];
  for (const e of entries) {
    // Files being written, and the locks of steps being built, belong to a build that runs now.
    if (e.name.startsWith('.tmp-') || e.name.endsWith('.lock')) continue;
    const full = path.join(dir, e.name);
    if (e.isDirectory()) files.push(...(await listFiles(full)));
    else if (e.isFile()) files.push(full);
  }
  return files;
}

function partOf(root: string, file: string): CachePart {
  const top = path.relative(root, file).split(path.sep)[0];
  return top === 'blobs' ? 'blobs' : top === 'steps' ? 'steps' : 'other';
}

/** Every file of the cache under `root` with its size and last use. */
export async function cacheItems(root: string): Promise<CacheItem[]> {
  const items: CacheItem[] = [];
  for (const file of await listFiles(root)) {
    const st = await lstat(file).catch(() => undefined);
    if (st === undefined || !st.isFile()) continue;
    items.push({ part: partOf(root, file), file, bytes: st.size, lastUsedMs: st.mtimeMs });
  }
  return items;
}

export function usageOf(items: readonly CacheItem[]): CacheUsage {
  const usage: CacheUsage = { blobs: { items: 0, bytes: 0 }, steps: { items: 0, bytes: 0 }, other: { items: 0, bytes: 0 }, total: { items: 0, bytes: 0 } };
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

/** Remove what `options` selects from the cache under `root`. */
export async function pruneCache(root: string, options: PruneOptions): Promise<PruneResult> {
  const items = await cacheItems(root);
  const selected = pruneSelection(items, options);
  const removed: CacheItem[] = [];
  for (const i of selected) {
    try {
      await unlink(i.file);
      removed.push(i);
    } catch (err) {
      if (errnoOf(err) !== 'ENOENT') throw err;
    }
  }
  const gone = new Set(removed);
  return { removed: usageOf(removed).total, kept: usageOf(items.filter((i) => !gone.has(i))).total };
}
