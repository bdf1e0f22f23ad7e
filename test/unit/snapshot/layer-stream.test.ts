import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { HoistError } from '../../../src/errors.js';
import type { LayerEntry } from '../../../snapshot/layer-entry.js';
import { createLayer, writeLayer } from '../../../snapshot/layer-stream.js';
import { T0, collect, dir, file, layerBytes, symlink, tarBytes } from './fixtures.js';

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function tree(mtime: number): LayerEntry[] {
  return [
    dir('app', { mtime }),
    file('app/main.js', 'console.log(1)\n'.repeat(500), { mtime, uid: 1000, gid: 1000 }),
    file('app/data.bin', Buffer.alloc(70_000, 7), { mtime }),
    symlink('app/current', 'main.js', { mtime }),
    { kind: 'whiteout', path: 'app/old.js' },
  ];
}

describe('createLayer', () => {
  it('diffID is the sha256 of the gunzipped stream, digest and size describe the gzip bytes', async () => {
    const { gz, tar, result } = await layerBytes(tree(T0));
    expect(result.diffId).toBe(sha256(tar));
    expect(result.digest).toBe(sha256(gz));
    expect(result.size).toBe(gz.length);
    expect(result.uncompressedSize).toBe(tar.length);
    expect(tar.equals(await tarBytes(tree(T0)))).toBe(true);
    expect(gz.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
  });

  it('is deterministic: the same entries give the same diffID and digest', async () => {
    const a = await layerBytes(tree(T0));
    const b = await layerBytes(tree(T0).reverse());
    expect(b.result).toEqual(a.result);
    expect(b.gz.equals(a.gz)).toBe(true);
  });

  it('clamps mtimes: trees that differ only in mtimes after SOURCE_DATE_EPOCH give the same digest', async () => {
    const epoch = 1_600_000_000;
    const a = await layerBytes(tree(T0), { clampMtime: epoch });
    const b = await layerBytes(tree(T0 + 12_345), { clampMtime: epoch });
    expect(b.result).toEqual(a.result);
    const unclamped = await layerBytes(tree(T0 + 12_345));
    expect(unclamped.result.diffId).not.toBe(a.result.diffId);
    // an mtime before the clamp is kept
    const early = await layerBytes(tree(epoch - 10), { clampMtime: epoch });
    expect(early.result.diffId).not.toBe(a.result.diffId);
  });

  it('honours the gzip level and refuses a bad one', async () => {
    const big = [file('x', Buffer.from('abcdefgh'.repeat(100_000)))];
    const stored = await layerBytes(big, { gzipLevel: 0 });
    const best = await layerBytes(big, { gzipLevel: 9 });
    expect(stored.result.diffId).toBe(best.result.diffId);
    expect(stored.result.size).toBeGreaterThan(800_000);
    expect(best.result.size).toBeLessThan(10_000);
    expect(() => createLayer(big, { gzipLevel: 10 })).toThrow(HoistError);
  });

  it('does nothing until the stream is read', async () => {
    let opened = 0;
    const layer = createLayer([file('a', 'a', { open: () => (opened++, Readable.from([Buffer.from('a')])) })]);
    await new Promise((r) => setTimeout(r, 20));
    expect(opened).toBe(0);
    await collect(layer.stream);
    expect(opened).toBe(1);
    await layer.result;
  });

  it('rejects result and errors the stream on a bad entry', async () => {
    const layer = createLayer([file('../escape', 'x')]);
    await expect(collect(layer.stream)).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
    await expect(layer.result).rejects.toMatchObject({ code: 'UNSAFE_PATH' });
  });

  it('rejects result when a content stream fails midway', async () => {
    const failing = file('a', 'x', {
      size: 10,
      open: () =>
        new Readable({
          read() {
            this.destroy(new Error('disk on fire'));
          },
        }),
    });
    const layer = createLayer([failing]);
    await expect(collect(layer.stream)).rejects.toThrow('disk on fire');
    await expect(layer.result).rejects.toThrow('disk on fire');
  });
});

describe('writeLayer', () => {
  it('pipes into a sink and returns the same result as createLayer', async () => {
    const chunks: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk);
        cb();
      },
    });
    const result = await writeLayer(tree(T0), {}, sink);
    const gz = Buffer.concat(chunks);
    expect(result.digest).toBe(sha256(gz));
    expect(result.diffId).toBe(sha256(gunzipSync(gz)));
    expect(result).toEqual((await layerBytes(tree(T0))).result);
  });
});

describe('memory', () => {
  /** `total` bytes, made as they are read: a mix of pseudo-random and repeated text, never held whole. */
  function generated(total: number): Readable {
    let made = 0;
    let seed = 12345;
    return new Readable({
      read() {
        if (made >= total) {
          this.push(null);
          return;
        }
        const n = Math.min(256 * 1024, total - made);
        const buf = Buffer.allocUnsafe(n);
        if ((made / n) % 2 === 0) {
          for (let i = 0; i < n; i += 4) {
            seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
            buf.writeUInt32LE(seed, i);
          }
        } else {
          buf.fill('the quick brown fox jumps over the lazy dog\n');
        }
        made += n;
        this.push(buf);
      },
    });
  }

  it('streams a 200 MB file without RSS growing with it', async () => {
    const size = 200 * 1024 * 1024;
    const sink = (): Writable =>
      new Writable({
        write(_chunk, _enc, cb) {
          cb();
        },
      });
    // Warm up zlib, crypto and the stream machinery so their one-time cost is not counted.
    await writeLayer([file('warm', Buffer.alloc(0), { size: 8 << 20, open: () => generated(8 << 20) })], { gzipLevel: 1 }, sink());
    const before = process.memoryUsage().rss;
    let peak = before;
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    try {
      const result = await writeLayer([file('big.bin', Buffer.alloc(0), { size, open: () => generated(size) })], { gzipLevel: 1 }, sink());
      expect(result.uncompressedSize).toBe(512 + size + 1024);
    } finally {
      clearInterval(timer);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    expect((peak - before) / (1024 * 1024)).toBeLessThan(60);
  }, 120_000);
});
