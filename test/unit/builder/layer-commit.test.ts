import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { commitLayer } from '../../../src/builder/executor/layer-commit.js';
import type { BlockDeflater } from '../../../snapshot/deflate-pool.js';
import { deflateInThreadPool } from '../../../snapshot/parallel-gzip.js';
import { BlobStore, MediaType, type GrowingBlob } from '../../../src/oci/index.js';
import { sha256Digest } from '../../../src/oci/digest.js';
import type { LayerEntry } from '../../../snapshot/layer-entry.js';
import { collect, dir, file, layerBytes } from '../snapshot/fixtures.js';

function entries(): LayerEntry[] {
  const big = Buffer.alloc(3 << 20);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
  return [dir('app'), file('app/a.txt', 'alpha\n'), file('app/big.bin', big), file('app/b.txt', 'beta\n', { mode: 0o4755 })];
}

async function readAllOf(chunks: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of chunks) out.push(c);
  return out;
}

/** The spool files left, once the removals in flight (after a stream's close) have had time to land. */
async function spoolsLeft(dir: string): Promise<string[]> {
  for (let i = 0; i < 100; i++) {
    const names = await readdir(dir);
    if (names.length === 0) return names;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return readdir(dir);
}

describe('commitLayer', () => {
  let work: string;
  let spoolDir: string;
  let store: BlobStore;
  beforeEach(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'hoist-commit-'));
    spoolDir = path.join(work, 'spool');
    await import('node:fs/promises').then((fs) => fs.mkdir(spoolDir));
    store = new BlobStore(path.join(work, 'store'));
    await store.prepare();
  });
  afterEach(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it('stores the same blob as the one-pass layer writer, and serves the tar before and after', async () => {
    const expected = await layerBytes(entries());
    const committed = await commitLayer(store, entries(), { spoolDir });
    expect(committed.diffId).toBe(expected.result.diffId);
    // Readable at once, from the spool, whether or not the gzip has finished.
    const early = await collect(await committed.layer.uncompressed());
    expect(sha256Digest(early)).toBe(expected.result.diffId);
    const stored = await committed.stored;
    expect(stored).toEqual({ digest: expected.result.digest, size: expected.result.size });
    expect(await committed.layer.digest()).toBe(expected.result.digest);
    expect((await collect(await store.open(stored.digest, stored.size))).equals(expected.gz)).toBe(true);
    // Once stored, the tar comes from the blob, and the spool is gone.
    const late = await collect(await committed.layer.uncompressed());
    expect(late.equals(early)).toBe(true);
    expect(await spoolsLeft(spoolDir)).toEqual([]);
  });

  it('hands the blob to a stream while it is written: the bytes stored, under the stored digest', async () => {
    const cleanups: Array<() => Promise<void>> = [];
    let blob: GrowingBlob | undefined;
    const committed = await commitLayer(store, entries(), { spoolDir, stream: { send: (b) => void (blob = b), onCleanup: (c) => void cleanups.push(c) } });
    expect(blob).toBeDefined();
    // Claimed, then the build's cleanup comes before a byte is read (a slow registry's POST): it waits for the reader.
    const claimed = (blob as GrowingBlob).chunks();
    let cleanedUp = false;
    expect(cleanups).toHaveLength(1);
    const cleanup = cleanups[0]!().then(() => void (cleanedUp = true));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(cleanedUp).toBe(false);
    const read = (async () => Buffer.concat(await readAllOf(claimed)))();
    const stored = await committed.stored;
    const bytes = await read;
    expect(sha256Digest(bytes)).toBe(stored.digest);
    expect(bytes.length).toBe(stored.size);
    expect(await (blob as GrowingBlob).descriptor).toEqual({ mediaType: MediaType.OciLayerGzip, ...stored });
    await cleanup;
    expect(() => (blob as GrowingBlob).chunks()).toThrow(/at most once/);
  });

  it('fails a stream reader when the blob is never stored, and a discarded blob cannot be read', async () => {
    const abort = new AbortController();
    let blob: GrowingBlob | undefined;
    const committed = await commitLayer(store, entries(), { spoolDir, compressSignal: abort.signal, stream: { send: (b) => void (blob = b), onCleanup: () => undefined } });
    abort.abort(new Error('interrupted'));
    await expect(committed.stored).rejects.toThrow();
    await expect(readAllOf((blob as GrowingBlob).chunks())).rejects.toThrow();
    await expect((blob as GrowingBlob).descriptor).rejects.toThrow();
    let discarded: GrowingBlob | undefined;
    const second = await commitLayer(store, entries(), { spoolDir, stream: { send: (b) => void (discarded = b), onCleanup: () => undefined } });
    (discarded as GrowingBlob).discard();
    await expect(readAllOf((discarded as GrowingBlob).chunks())).rejects.toThrow(/discarded/);
    await second.stored;
  });

  it('keeps the spool for a reader that opened it before the blob was stored', async () => {
    const committed = await commitLayer(store, entries(), { spoolDir });
    const reader = await committed.layer.uncompressed();
    await committed.stored;
    // Read after the store has the blob: the reader's file is still whole.
    expect(sha256Digest(await collect(reader))).toBe(committed.diffId);
    expect(await spoolsLeft(spoolDir)).toEqual([]);
  });

  it('reports the compression as it goes, in file content bytes, and once more when the blob is stored', async () => {
    const seen: Array<[number, number, boolean]> = [];
    const committed = await commitLayer(store, entries(), { spoolDir, onProgress: (c, t, d) => seen.push([c, t, d]) });
    await committed.stored;
    await new Promise((resolve) => setImmediate(resolve));
    const total = (3 << 20) + 6 + 5;
    expect(seen.at(-1)).toEqual([total, total, true]);
    expect(seen.filter(([, , done]) => done)).toHaveLength(1);
    // The tar is read in 1 MiB pieces: the gzip's way through it shows before the end.
    const running = seen.filter(([, , done]) => !done).map(([c]) => c);
    expect(running.some((c) => c > 0 && c < total)).toBe(true);
    expect([...running].sort((a, b) => a - b)).toEqual(running);
    expect(seen.every(([c, t]) => t === total && c <= total)).toBe(true);
  });

  it('fails the tar part, and leaves no spool, when an entry cannot be read', async () => {
    const failing = file('x', 'xyz', { open: () => Readable.from((async function* () { yield Buffer.from('x'); throw new Error('disk gone'); })()) });
    await expect(commitLayer(store, [failing], { spoolDir })).rejects.toThrow(/disk gone/);
    expect(await spoolsLeft(spoolDir)).toEqual([]);
  });

  it('stops compressing when the build is aborted: the stored promise rejects and nothing is left', async () => {
    const abort = new AbortController();
    const committed = await commitLayer(store, entries(), { spoolDir, compressSignal: abort.signal });
    abort.abort(new Error('interrupted'));
    await expect(committed.stored).rejects.toThrow();
    await expect(committed.layer.digest()).rejects.toThrow();
    expect(await spoolsLeft(spoolDir)).toEqual([]);
    const blobs = await readdir(path.join(work, 'store', 'blobs', 'sha256')).catch(() => []);
    expect(blobs).toEqual([]);
  });
  it('compresses the tar while it is still being written, to the same blob', async () => {
    // A file whose second half is written only once the gzip has deflated a block of the first
    // (or after 20 s, and then the test fails): the gzip must follow the tar as it grows.
    const half = Buffer.alloc(2 << 20);
    for (let i = 0; i < half.length; i++) half[i] = (i * 7919) % 251;
    let firstBlock: () => void = () => undefined;
    const deflated = new Promise<void>((resolve) => (firstBlock = resolve));
    const content = new PassThrough();
    const slow: LayerEntry = { ...file('slow.bin', Buffer.alloc(0)), size: 2 * half.length, open: () => content };
    let followed: boolean | undefined;
    const seen: number[] = [];
    let shownWhileWriting: number[] = [];
    const feed = (async () => {
      content.write(half);
      followed = await Promise.race([deflated.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 20_000))]);
      shownWhileWriting = [...seen];
      content.end(half);
    })();
    const deflate: BlockDeflater = async (data, options) => {
      firstBlock();
      return deflateInThreadPool(data, options);
    };
    const committed = await commitLayer(store, [slow], { spoolDir, deflate, onProgress: (c, _t, done) => done || seen.push(c) });
    await feed;
    expect(followed).toBe(true);
    // The compression shows while the tar is still written (against an estimate of its size).
    expect(shownWhileWriting.some((c) => c > 0 && c < 2 * half.length)).toBe(true);
    const expected = await layerBytes([file('slow.bin', Buffer.concat([half, half]))]);
    expect(committed.diffId).toBe(expected.result.diffId);
    expect(await committed.stored).toEqual({ digest: expected.result.digest, size: expected.result.size });
  }, 30_000);
});
