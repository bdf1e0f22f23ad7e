import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { readdir, readFile, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { HoistError } from '../../../src/errors.js';
import { BlobStore, resolveStoreRoot } from '../../../src/oci/blob-store.js';
import type { Digest } from '../../../src/oci/digest.js';
import { collect, sha256, useTempDirs } from './fixtures.js';

const tempDir = useTempDirs();

/** A stream that yields `data` in small chunks across event-loop turns, to interleave writers. */
function slowStream(data: Buffer, chunk = 1000): Readable {
  async function* gen(): AsyncGenerator<Buffer> {
    for (let i = 0; i < data.length; i += chunk) {
      await new Promise((r) => setImmediate(r));
      yield data.subarray(i, i + chunk);
    }
  }
  return Readable.from(gen());
}

/** A stream that yields the first `at` bytes of `data`, then waits for `release()` before the rest. */
function gatedStream(data: Buffer, at: number): { stream: Readable; release: () => void } {
  let release = (): void => undefined;
  const gate = new Promise<void>((r) => (release = r));
  async function* gen(): AsyncGenerator<Buffer> {
    yield data.subarray(0, at);
    await gate;
    yield data.subarray(at);
  }
  return { stream: Readable.from(gen()), release: () => release() };
}

/** Sizes of the files in the store's sha256 directory; only temp files (writes in progress) with `tempOnly`. */
async function fileSizes(store: BlobStore, tempOnly: boolean): Promise<number[]> {
  const dir = join(store.root, 'blobs', 'sha256');
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => !tempOnly || n.startsWith('.tmp-'));
  return Promise.all(names.map(async (n) => (await stat(join(dir, n))).size));
}

/** Poll until `cond` holds (the test's own timeout bounds the wait). */
async function waitFor(cond: () => Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 5));
}

function failingStream(after: Buffer): Readable {
  async function* gen(): AsyncGenerator<Buffer> {
    yield after;
    throw new Error('source broke');
  }
  return Readable.from(gen());
}

async function blobDirEntries(store: BlobStore): Promise<string[]> {
  return readdir(join(store.root, 'blobs', 'sha256')).catch(() => []);
}

async function expectCode(p: Promise<unknown>, code: string): Promise<HoistError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HoistError);
  expect((err as HoistError).code).toBe(code);
  return err as HoistError;
}

describe('BlobStore.put with a watch', () => {
  it('tells the temp file, its growth and the end; a reader that opened the file there keeps it across the rename', async () => {
    const store = new BlobStore(await tempDir());
    const data = Buffer.alloc(3 << 20, 7);
    const events: string[] = [];
    let fd: number | undefined;
    let written = 0;
    const info = await store.put(slowStream(data, 1 << 20), {}, {
      watch: {
        opened: (file) => {
          events.push(file.includes('.tmp-') ? 'opened temp' : `opened ${file}`);
          fd = openSync(file, 'r');
        },
        grew: (n) => {
          expect(n).toBeGreaterThan(written);
          written = n;
        },
        ended: (complete) => events.push(`ended ${complete}`),
      },
    });
    expect(events).toEqual(['opened temp', 'ended true']);
    expect(written).toBe(data.length);
    const back = Buffer.alloc(data.length);
    expect(readSync(fd as number, back, 0, data.length, 0)).toBe(data.length);
    closeSync(fd as number);
    expect(back.equals(data)).toBe(true);
    expect(info.size).toBe(data.length);
  });

  it('tells a failed write as such', async () => {
    const store = new BlobStore(await tempDir());
    const events: boolean[] = [];
    const failing = Readable.from((async function* () {
      yield Buffer.alloc(1000);
      throw new Error('source broke');
    })());
    await expect(store.put(failing, {}, { watch: { opened: () => undefined, grew: () => undefined, ended: (c) => events.push(c) } })).rejects.toThrow('source broke');
    expect(events).toEqual([false]);
  });
});

describe('BlobStore', () => {
  const data = Buffer.from('hello, blob store\n'.repeat(1000));
  const digest = sha256(data);

  it('puts, finds and reads back a blob at blobs/sha256/<hex>', async () => {
    const store = new BlobStore(await tempDir());
    expect(await store.has(digest)).toBe(false);
    const info = await store.put(Readable.from([data]));
    expect(info).toEqual({ digest, size: data.length });
    expect(store.path(digest)).toBe(join(store.root, 'blobs', 'sha256', digest.slice(7)));
    expect(await store.has(digest)).toBe(true);
    expect(await store.size(digest)).toBe(data.length);
    expect(await readFile(store.path(digest))).toEqual(data);
    expect(await collect(await store.open(digest))).toEqual(data);
    expect(await store.readBytes(digest)).toEqual(data);
    expect(await blobDirEntries(store)).toEqual([digest.slice(7)]);
  });

  it('accepts content matching the expectation', async () => {
    const store = new BlobStore(await tempDir());
    expect(await store.put(slowStream(data), { digest, size: data.length })).toEqual({ digest, size: data.length });
  });

  it('rejects content with the wrong digest, leaving nothing behind', async () => {
    const store = new BlobStore(await tempDir());
    const wrong = sha256('something else');
    const err = await expectCode(store.put(Readable.from([data]), { digest: wrong }), 'DIGEST_MISMATCH');
    expect(err.message).toContain(wrong);
    expect(await store.has(wrong)).toBe(false);
    expect(await store.has(digest)).toBe(false);
    expect(await blobDirEntries(store)).toEqual([]);
  });

  it('rejects content of the wrong size (too long and too short)', async () => {
    const store = new BlobStore(await tempDir());
    await expectCode(store.put(Readable.from([data]), { digest, size: data.length - 1 }), 'DIGEST_MISMATCH');
    await expectCode(store.put(Readable.from([data]), { digest, size: data.length + 1 }), 'DIGEST_MISMATCH');
    await expectCode(store.put(Readable.from([data]), { size: 3 }), 'DIGEST_MISMATCH');
    expect(await blobDirEntries(store)).toEqual([]);
  });

  it('removes the temp file when the source fails', async () => {
    const store = new BlobStore(await tempDir());
    await expect(store.put(failingStream(data))).rejects.toThrow('source broke');
    expect(await blobDirEntries(store)).toEqual([]);
  });

  it('stores sha512 blobs under blobs/sha512', async () => {
    const store = new BlobStore(await tempDir());
    const d512 = `sha512:${createHash('sha512').update(data).digest('hex')}` as Digest;
    expect((await store.put(Readable.from([data]), { digest: d512 })).digest).toBe(d512);
    expect(store.path(d512)).toContain(join('blobs', 'sha512'));
    expect(await collect(await store.open(d512))).toEqual(data);
  });

  it('reports a missing blob as BLOB_NOT_FOUND, with the hint its owner gave', async () => {
    const store = new BlobStore(await tempDir());
    await expectCode(store.open(digest), 'BLOB_NOT_FOUND');
    await expectCode(store.size(digest), 'BLOB_NOT_FOUND');
    expect(store.notFound(digest).hint).toBeUndefined();
    const owned = new BlobStore(await tempDir(), { missingHint: 'write it again' });
    await expect(owned.open(digest)).rejects.toMatchObject({ code: 'BLOB_NOT_FOUND', hint: 'write it again' });
    await expect(owned.size(digest)).rejects.toMatchObject({ code: 'BLOB_NOT_FOUND', hint: 'write it again' });
  });

  it('open() fails at the end when the content on disk was altered', async () => {
    const store = new BlobStore(await tempDir());
    await store.putBytes(data);
    const altered = Buffer.from(data);
    altered[10] = 0x21;
    await writeFile(store.path(digest), altered);
    const stream = await store.open(digest);
    const err = await collect(stream).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(HoistError);
    expect((err as HoistError).code).toBe('DIGEST_MISMATCH');
  });

  it('open() with an expected size fails at once on a truncated blob', async () => {
    const store = new BlobStore(await tempDir());
    await store.putBytes(data);
    await truncate(store.path(digest), 100);
    await expectCode(store.open(digest, data.length), 'DIGEST_MISMATCH');
    await expect(collect(await store.open(digest))).rejects.toThrow(/digest/);
  });

  it('keeps an existing blob of the right size instead of replacing it', async () => {
    const store = new BlobStore(await tempDir());
    await store.putBytes(data);
    const before = await stat(store.path(digest));
    await store.putBytes(data);
    const after = await stat(store.path(digest));
    expect(after.ino).toBe(before.ino);
    expect(await blobDirEntries(store)).toEqual([digest.slice(7)]);
  });

  it('repairs an existing blob of the wrong size (left truncated by a crash or a bad copy)', async () => {
    const store = new BlobStore(await tempDir());
    await store.putBytes(data);
    await truncate(store.path(digest), 10);
    await store.put(slowStream(data), { digest });
    expect(await readFile(store.path(digest))).toEqual(data);
    expect(await collect(await store.open(digest, data.length))).toEqual(data);
  });

  it('20 concurrent puts of the same content all succeed and leave one good blob', async () => {
    const store = new BlobStore(await tempDir());
    const big = Buffer.alloc(256 * 1024, 7);
    const d = sha256(big);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.put(slowStream(big, 4096 + i), i % 2 === 0 ? { digest: d } : {})),
    );
    for (const r of results) expect(r).toEqual({ digest: d, size: big.length });
    expect(await blobDirEntries(store)).toEqual([d.slice(7)]);
    expect(sha256(await readFile(store.path(d)))).toBe(d);
  });

  it('concurrent puts of the same content, with readers, never see partial blobs', async () => {
    const store = new BlobStore(await tempDir());
    const blob = Buffer.alloc(96 * 1024 + 17, 5);
    const d = sha256(blob);
    const half = 48 * 1024;
    /** What a reader finds at the blob's path: nothing, or the whole blob (compared by hash: toEqual on big Buffers is slow). */
    const look = async (): Promise<'absent' | 'whole'> => {
      const raw = await readFile(store.path(d)).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return undefined;
        throw e;
      });
      if (raw === undefined) return 'absent';
      expect(raw.length).toBe(blob.length);
      expect(sha256(raw)).toBe(d);
      // Once there, it stays: the store's own verified read agrees.
      expect(await store.has(d)).toBe(true);
      expect(sha256(await collect(await store.open(d)))).toBe(d);
      return 'whole';
    };

    // Writer A stops halfway, its temp file in the blob directory: readers find no blob.
    const a = gatedStream(blob, half);
    const putA = store.put(a.stream, { digest: d });
    await waitFor(async () => (await fileSizes(store, false)).includes(half));
    expect(await look()).toBe('absent');
    expect(await store.has(d)).toBe(false);
    await expectCode(store.open(d), 'BLOB_NOT_FOUND');

    // Writer B, and several writers with readers, all at once, while A is still halfway.
    const others = [0, 1, 2, 3].map((i) => store.put(slowStream(blob, 2000 + i * 1000), i % 2 === 0 ? { digest: d } : {}));
    let writing = true;
    const sightings: Array<'absent' | 'whole'> = [];
    const readers = [0, 1].map(async () => {
      while (writing) {
        sightings.push(await look());
        await new Promise((r) => setImmediate(r));
      }
    });
    const [done] = await Promise.all([Promise.all(others).finally(() => (writing = false)), ...readers]);
    for (const r of done) expect(r).toEqual({ digest: d, size: blob.length });
    expect(sightings.length).toBeGreaterThan(0);

    // The blob is complete while A is still halfway; A then finishes without disturbing it.
    expect(await fileSizes(store, true)).toEqual([half]);
    expect(await look()).toBe('whole');
    a.release();
    expect(await putA).toEqual({ digest: d, size: blob.length });
    expect(await look()).toBe('whole');
    expect(await blobDirEntries(store)).toEqual([d.slice(7)]);
  });

  it('ignores and can clean a truncated temp file left by a dead writer', async () => {
    const store = new BlobStore(await tempDir());
    const dir = join(store.root, 'blobs', 'sha256');
    await store.putBytes(Buffer.from('x'));
    const stale = join(dir, '.tmp-99999-deadbeef');
    await writeFile(stale, data.subarray(0, 100));
    const old = new Date(Date.now() - 3_600_000);
    await utimes(stale, old, old);
    const fresh = join(dir, '.tmp-99999-cafe');
    await writeFile(fresh, data.subarray(0, 50));

    expect(await store.has(digest)).toBe(false);
    await store.putBytes(data, { digest });
    expect(await collect(await store.open(digest))).toEqual(data);

    expect(await store.removeStaleTemp(60_000)).toBe(1);
    const left = await blobDirEntries(store);
    expect(left).toContain('.tmp-99999-cafe');
    expect(left).not.toContain('.tmp-99999-deadbeef');
  });

  it('delete() removes a blob and tolerates a missing one', async () => {
    const store = new BlobStore(await tempDir());
    await store.putBytes(data);
    await store.delete(digest);
    expect(await store.has(digest)).toBe(false);
    await store.delete(digest);
  });

  it('readBytes() refuses blobs over the limit', async () => {
    const store = new BlobStore(await tempDir());
    await store.putBytes(data);
    await expectCode(store.readBytes(digest, 10), 'BLOB_TOO_LARGE');
  });
});

describe('resolveStoreRoot', () => {
  it('prefers --cache-dir, then HOIST_CACHE_DIR, then ~/.cache/hoist', () => {
    const env = { HOIST_CACHE_DIR: '/env/cache' };
    expect(resolveStoreRoot({ cacheDir: '/flag', env, homedir: '/home/u' })).toBe('/flag');
    expect(resolveStoreRoot({ env, homedir: '/home/u' })).toBe('/env/cache');
    expect(resolveStoreRoot({ env: {}, homedir: '/home/u' })).toBe('/home/u/.cache/hoist');
    expect(resolveStoreRoot({ cacheDir: '', env: { HOIST_CACHE_DIR: '' }, homedir: '/root' })).toBe('/root/.cache/hoist');
  });
});
