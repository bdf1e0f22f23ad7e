import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { constants, deflateRawSync, gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { GZIP_BLOCK_SIZE, createParallelGzip } from '../../../snapshot/parallel-gzip.js';
import { collect, withTempDir } from './fixtures.js';
import { blockAtBufferEdge, mixed, noise, reference } from '../../helpers/gzip-reference.js';

const run = promisify(execFile);

async function gz(data: Buffer, level = 6, concurrency?: number, chunk = data.length || 1, depth?: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunk) parts.push(data.subarray(i, i + chunk));
  const options = { level, ...(concurrency === undefined ? {} : { concurrency }), ...(depth === undefined ? {} : { depth }) };
  const stream = Readable.from(parts).pipe(createParallelGzip(options));
  return collect(stream);
}

describe('parallel gzip', () => {
  const sizes = [0, 1, 32 * 1024 - 1, GZIP_BLOCK_SIZE, GZIP_BLOCK_SIZE + 1, Math.floor(3.5 * GZIP_BLOCK_SIZE)];

  it.each(sizes)('round-trips %i bytes through zlib and GNU gzip', async (size) => {
    const data = mixed(size);
    const out = await gz(data);
    expect(gunzipSync(out).equals(data)).toBe(true);
    await withTempDir(async (d) => {
      const p = join(d, 'x.gz');
      await writeFile(p, out);
      await run('gzip', ['-t', p]);
      const { stdout } = await run('sh', ['-c', `gzip -dc '${p}' | sha256sum`]);
      const { createHash } = await import('node:crypto');
      expect(stdout.split(' ')[0]).toBe(createHash('sha256').update(data).digest('hex'));
    });
  });

  it('gives the same bytes whatever the concurrency, the depth and the input chunking', async () => {
    const data = mixed(5 * GZIP_BLOCK_SIZE + 12345);
    const reference = await gz(data, 6, 1, data.length, 1);
    for (const [concurrency, chunk, depth] of [
      [2, data.length, undefined],
      [8, 1000, undefined],
      [3, GZIP_BLOCK_SIZE, 3],
      [1, 77_777, 6],
      [2, 50_000, 2],
    ] as const) {
      const label = `concurrency ${concurrency} chunk ${chunk} depth ${depth}`;
      expect((await gz(data, 6, concurrency, chunk, depth)).equals(reference), label).toBe(true);
    }
  });

  it('costs little compression against one zlib stream, at every level', async () => {
    const data = mixed(2 * 1024 * 1024);
    for (const level of [1, 6, 9]) {
      const single = gzipSync(data, { level }).length;
      const parallel = (await gz(data, level)).length;
      expect(parallel / single, `level ${level}`).toBeLessThan(1.01);
    }
    const stored = await gz(data, 0);
    expect(gunzipSync(stored).equals(data)).toBe(true);
  });

  it('writes a header that names no OS and no time', async () => {
    const out = await gz(Buffer.from('x'));
    expect([...out.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
  });

  it('writes the same bytes as block-by-block zlib with 16 KiB output buffers, at every level', async () => {
    const data = Buffer.concat([mixed(3 * GZIP_BLOCK_SIZE), noise(GZIP_BLOCK_SIZE + 999, 3)]);
    for (const level of [0, 1, 4, 6, 9]) {
      expect((await gz(data, level, undefined, 65_536)).equals(reference(data, level)), `level ${level}`).toBe(true);
    }
  });

  it('stores the blocks deflate cannot shrink, at every level but 0', async () => {
    const data = Buffer.concat([noise(2 * GZIP_BLOCK_SIZE, 21), mixed(GZIP_BLOCK_SIZE), noise(GZIP_BLOCK_SIZE, 22)]);
    for (const level of [1, 4, 9]) {
      const out = await gz(data, level, 2, 100_000);
      // BTYPE 00 in the first block's header: stored, not Huffman-coded.
      expect((out[10] as number) & 0b111, `level ${level}`).toBe(0);
      expect(out.equals(reference(data, level)), `level ${level}`).toBe(true);
      expect(gunzipSync(out).equals(data)).toBe(true);
      // Stored noise costs 5 bytes per 16 KiB; the text block still shrinks.
      expect(out.length, `level ${level}`).toBeLessThan(3 * GZIP_BLOCK_SIZE + 500 + 0.6 * GZIP_BLOCK_SIZE);
    }
    await withTempDir(async (d) => {
      const p = join(d, 'x.gz');
      await writeFile(p, await gz(data, 4));
      await run('gzip', ['-t', p]);
    });
  });

  it('stores a last block with the bytes of the sync API, whatever its size', async () => {
    // zlib cuts stored blocks where its calls end: through the async API a last stored
    // block of these sizes came out 5 bytes longer than from deflateRawSync.
    for (const [level, tail] of [
      [4, 131_072],
      [4, 98_300],
      [9, 229_376],
      [0, 40_000],
      [0, 65_531],
    ] as const) {
      const data = Buffer.concat([mixed(GZIP_BLOCK_SIZE), noise(tail, tail)]);
      const out = await gz(data, level, 2, 100_000);
      expect(out.equals(reference(data, level)), `level ${level}, last block ${tail}`).toBe(true);
    }
  });

  it('keeps those bytes for a block whose output ends at a 16 KiB buffer edge', async () => {
    const edge = blockAtBufferEdge();
    const options = { level: 6, memLevel: 9, finishFlush: constants.Z_SYNC_FLUSH };
    // The case exists: with 16 KiB buffers this block's output is 5 bytes longer.
    expect(deflateRawSync(edge, options).length - deflateRawSync(edge, { ...options, chunkSize: 2 * GZIP_BLOCK_SIZE }).length).toBe(5);
    const data = Buffer.concat([mixed(GZIP_BLOCK_SIZE), edge, mixed(GZIP_BLOCK_SIZE / 2, 9)]);
    const out = await gz(data, 6, 2, 100_000);
    expect(out.equals(reference(data, 6))).toBe(true);
    expect(gunzipSync(out).equals(data)).toBe(true);
  });
});
