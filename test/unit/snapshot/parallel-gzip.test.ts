import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { GZIP_BLOCK_SIZE, createParallelGzip } from '../../../snapshot/parallel-gzip.js';
import { collect, withTempDir } from './fixtures.js';

const run = promisify(execFile);

/** Half pseudo-random, half text, in 4 KiB runs: both deflate paths get work. */
function mixed(size: number, seed = 7): Buffer {
  const buf = Buffer.alloc(size);
  let x = seed;
  for (let off = 0; off < size; off += 4096) {
    const end = Math.min(size, off + 4096);
    if ((off / 4096) % 2 === 0) {
      for (let i = off; i < end; i++) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        buf[i] = x >>> 24;
      }
    } else {
      buf.write('layer digest manifest config index blob '.repeat(120), off, end - off, 'latin1');
    }
  }
  return buf;
}

async function gz(data: Buffer, level = 6, concurrency?: number, chunk = data.length || 1): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunk) parts.push(data.subarray(i, i + chunk));
  const stream = Readable.from(parts).pipe(createParallelGzip(concurrency === undefined ? { level } : { level, concurrency }));
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

  it('gives the same bytes whatever the concurrency and the input chunking', async () => {
    const data = mixed(5 * GZIP_BLOCK_SIZE + 12345);
    const reference = await gz(data, 6, 1);
    for (const [concurrency, chunk] of [
      [2, data.length],
      [8, 1000],
      [3, GZIP_BLOCK_SIZE],
      [1, 77_777],
    ] as const) {
      expect((await gz(data, 6, concurrency, chunk)).equals(reference), `concurrency ${concurrency} chunk ${chunk}`).toBe(true);
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
});
