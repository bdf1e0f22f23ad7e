import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cacheItems, pruneCache, pruneSelection, usageOf, type CacheItem } from '../../../../src/builder/cache/disk-usage.js';
import { BlobStore } from '../../../../src/oci/blob-store.js';
import { openCacheDir } from '../../../../src/builder/run/mounts/cache-mount.js';
import { parseByteSize } from '../../../../cmd/cache.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'hoist-cache-du-'));
});
afterEach(async () => rm(root, { recursive: true, force: true }));

const DAY = 86_400_000;

async function put(rel: string, bytes: number, daysAgo: number): Promise<void> {
  const file = path.join(root, rel);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, Buffer.alloc(bytes));
  const t = new Date(Date.now() - daysAgo * DAY);
  await utimes(file, t, t);
}

describe('cache disk usage and prune', () => {
  it('counts blobs, step records and other files, and skips files being written', async () => {
    await put('blobs/sha256/aa', 100, 1);
    await put('blobs/sha256/bb', 200, 2);
    await put('blobs/sha256/.tmp-1-xyz', 999, 0);
    await put('steps/cc/cc.json', 10, 1);
    await put('contexts/x.json', 5, 1);
    const usage = usageOf(await cacheItems(root));
    expect(usage).toEqual({
      blobs: { items: 2, bytes: 300 },
      steps: { items: 1, bytes: 10 },
      mounts: { items: 0, bytes: 0 },
      other: { items: 1, bytes: 5 },
      total: { items: 4, bytes: 315 },
    });
  });

  it('removes what was not used within --filter until=, then the least recently used down to --keep-storage', () => {
    const now = Date.now();
    const item = (file: string, bytes: number, days: number): CacheItem => ({ part: 'blobs', file, bytes, lastUsedMs: now - days * DAY });
    const items = [item('new', 100, 0), item('old', 100, 10), item('mid', 100, 3), item('older', 100, 20)];
    expect(pruneSelection(items, { olderThanMs: 7 * DAY, now }).map((i) => i.file)).toEqual(['older', 'old']);
    expect(pruneSelection(items, { keepBytes: 150, now }).map((i) => i.file)).toEqual(['older', 'old', 'mid']);
    expect(pruneSelection(items, { olderThanMs: 7 * DAY, keepBytes: 1000, now }).map((i) => i.file)).toEqual(['older', 'old']);
    expect(pruneSelection(items, {}).length).toBe(4);
  });

  it('prunes files on disk and reports what it removed', async () => {
    await put('blobs/sha256/aa', 100, 10);
    await put('blobs/sha256/bb', 200, 0);
    const result = await pruneCache(root, { olderThanMs: DAY });
    expect(result).toEqual({ removed: { items: 1, bytes: 100 }, kept: { items: 1, bytes: 200 } });
    expect(await readdir(path.join(root, 'blobs/sha256'))).toEqual(['bb']);
  });

  it('counts each cache mount directory as one item, last used at its newest mtime, and prunes it whole unless a live build holds its lock', async () => {
    await put('mounts/apt/archives/a.deb', 300, 9);
    await put('mounts/apt/lists/l', 20, 1);
    await put('mounts/go/pkg/x', 50, 9);
    await put('mounts/held/f', 7, 9);
    await mkdir(path.join(root, 'mounts/.locks'));
    await writeFile(path.join(root, 'mounts/.locks/held.lock'), String(process.pid));
    await put('mounts/dead/f', 8, 9);
    // A pid that cannot be running: the lock is stale.
    await writeFile(path.join(root, 'mounts/.locks/dead.lock'), '2147483646');
    await put('mounts/.new-abc/partial', 9, 0);
    for (const dir of ['apt', 'apt/archives', 'apt/lists', 'go', 'go/pkg', 'held', 'dead']) {
      const t = new Date(Date.now() - 9 * DAY);
      await utimes(path.join(root, 'mounts', dir), t, t);
    }
    const items = await cacheItems(root);
    const mounts = items.filter((i) => i.part === 'mounts').map((i) => [path.basename(i.file), i.bytes]);
    expect(mounts.sort()).toEqual([['apt', 320], ['dead', 8], ['go', 50], ['held', 7]]);
    const apt = items.find((i) => i.file.endsWith('/apt'));
    expect(Date.now() - (apt?.lastUsedMs ?? 0)).toBeLessThan(2 * DAY);
    // Older than 5 days: go, held and dead; held stays while its build runs.
    const result = await pruneCache(root, { olderThanMs: 5 * DAY });
    expect(result.removed).toEqual({ items: 2, bytes: 58 });
    expect((await readdir(path.join(root, 'mounts'))).sort()).toEqual(['.locks', '.new-abc', 'apt', 'held']);
    expect(await readdir(path.join(root, 'mounts/apt/archives'))).toEqual(['a.deb']);
  });

  it('keeps a cache mount a build is using, whatever its sharing (shared takes no lock), and removes it once the build is done', async () => {
    const mounts = path.join(root, 'mounts');
    const req = { root: mounts, uid: 0, gid: 0, mode: 0o755, tmpDir: root } as const;
    const shared = await openCacheDir({ ...req, id: 'npm', sharing: 'shared' });
    const locked = await openCacheDir({ ...req, id: 'apt', sharing: 'locked' });
    await writeFile(path.join(shared.path, 'pkg'), 'x');
    const during = await pruneCache(root, {});
    expect(during.removed.items).toBe(0);
    expect((await readdir(mounts)).sort()).toEqual(['.locks', 'apt', 'npm']);
    expect(await readdir(shared.path)).toEqual(['pkg']);
    await shared.release();
    await locked.release();
    const after = await pruneCache(root, {});
    expect(after.removed).toEqual({ items: 2, bytes: 1 });
    expect(await readdir(mounts)).toEqual(['.locks']);
    // A new build makes it again, empty.
    const again = await openCacheDir({ ...req, id: 'npm', sharing: 'shared' });
    expect(await readdir(again.path)).toEqual([]);
    await again.release();
  });

  it('keeps a cache mount that a build in another PID namespace (a container sharing the cache dir) uses while it renews its use, whatever its pid is here, and an older hoist\'s use while its pid runs', async () => {
    const mounts = path.join(root, 'mounts');
    await put('mounts/m2/repo', 5, 0);
    await put('mounts/old/repo', 6, 0);
    await mkdir(path.join(mounts, '.locks/m2.users'), { recursive: true });
    await mkdir(path.join(mounts, '.locks/old.users'), { recursive: true });
    // Our own pid in another namespace: not ours, and not judged by it.
    await writeFile(path.join(mounts, `.locks/m2.users/${process.pid}-abcdef.use`), `${process.pid}@4026999999`);
    const stale = path.join(mounts, '.locks/old.users/2147483646-abcdef.use');
    await writeFile(stale, '2147483646@4026999999');
    const old = new Date(Date.now() - DAY);
    await utimes(stale, old, old);
    // A cache being made there too, young.
    await put('mounts/.new-2147483646@4026999999-dddd/partial', 7, 0);
    // An older hoist's use (no owner inside), days old, of a process that runs: in use.
    await put('mounts/legacy/repo', 8, 0);
    await mkdir(path.join(mounts, '.locks/legacy.users'), { recursive: true });
    const legacy = path.join(mounts, `.locks/legacy.users/${process.ppid}-abcdef.use`);
    await writeFile(legacy, '');
    await utimes(legacy, old, old);
    const result = await pruneCache(root, {});
    expect(result.removed).toEqual({ items: 1, bytes: 6 });
    expect((await readdir(mounts)).sort()).toEqual(['.locks', '.new-2147483646@4026999999-dddd', 'legacy', 'm2']);
  });

  it('removes what a killed build left being made or removed under mounts/ (its process is gone, or it is a day old), and not what a live build is making', async () => {
    await put('mounts/.new-2147483646-aaaa/partial', 10, 0);
    await put('mounts/.prune-2147483646-bbbb/partial', 20, 0);
    await put(`mounts/.new-${process.pid}-cccc/partial`, 30, 0);
    await put('mounts/.new-Xy12Zq/partial', 40, 0);
    await put('mounts/.new-Ab34Cd/partial', 50, 0);
    const old = new Date(Date.now() - 2 * DAY);
    await utimes(path.join(root, 'mounts/.new-Ab34Cd'), old, old);
    // No limit that would select anything: these go anyway.
    const result = await pruneCache(root, { olderThanMs: 30 * DAY });
    expect(result.removed).toEqual({ items: 3, bytes: 80 });
    expect((await readdir(path.join(root, 'mounts'))).sort()).toEqual([`.new-${process.pid}-cccc`, '.new-Xy12Zq']);
  });

  it('counts a blob read from the store as used now', async () => {
    const store = new BlobStore(root);
    await store.prepare();
    const { digest } = await store.put(Readable.from([Buffer.from('layer')]));
    const old = new Date(Date.now() - 30 * DAY);
    await utimes(store.path(digest), old, old);
    const stream = await store.open(digest);
    for await (const _ of stream) void _;
    const result = await pruneCache(root, { olderThanMs: DAY });
    expect(result.removed.items).toBe(0);
  });
});

describe('parseByteSize', () => {
  it('reads binary units as buildx does, and refuses what is not a size', () => {
    expect(parseByteSize('--keep-storage', '10GB')).toBe(10 * 1024 ** 3);
    expect(parseByteSize('--keep-storage', '512mib')).toBe(512 * 1024 ** 2);
    expect(parseByteSize('--keep-storage', '1.5g')).toBe(1.5 * 1024 ** 3);
    expect(parseByteSize('--keep-storage', '4096')).toBe(4096);
    expect(() => parseByteSize('--keep-storage', '10 parsecs')).toThrow(/is not a size/);
  });
});
