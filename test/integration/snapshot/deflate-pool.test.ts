import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { getPriority } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { constants, deflateRawSync, gunzipSync, inflateRawSync } from 'node:zlib';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFLATE_NICE, DeflatePool } from '../../../snapshot/deflate-pool.js';
import { createParallelGzip, GZIP_BLOCK_SIZE } from '../../../snapshot/parallel-gzip.js';
import { buildCliAsync, REPO_ROOT } from '../../helpers/cli.js';
import { blockAtBufferEdge, mixed, noise, reference } from '../../helpers/gzip-reference.js';
import { collect, withTempDir } from '../../unit/snapshot/fixtures.js';
import { threadNices } from '../../helpers/processes.js';

const run = promisify(execFile);

/** The worker as the built CLI runs it (tsc's output): a worker thread cannot load the TypeScript sources. */
const WORKER = path.join(REPO_ROOT, 'dist/snapshot/deflate-worker.js');

beforeAll(async () => {
  await buildCliAsync();
}, 10 * 60_000);

const pools: DeflatePool[] = [];
afterEach(async () => {
  for (const pool of pools.splice(0)) await pool.close();
});

function newPool(size?: number): DeflatePool {
  const pool = new DeflatePool({ script: WORKER, ...(size === undefined ? {} : { size }) });
  pools.push(pool);
  return pool;
}

async function gzipWith(pool: DeflatePool, data: Buffer, level: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += 100_000) parts.push(data.subarray(i, i + 100_000));
  return collect(Readable.from(parts).pipe(createParallelGzip({ level, deflate: (d, o) => pool.deflate(d, o) })));
}

/** How many of this process's threads run at nice `nice`. */
async function threadsAt(nice: number): Promise<number> {
  return [...(await threadNices()).values()].filter((n) => n === nice).length;
}

describe('deflate pool', () => {
  it('gives the bytes of block-by-block zlib, at every level, and at a 16 KiB buffer edge', async () => {
    const pool = newPool(2);
    const data = Buffer.concat([mixed(3 * GZIP_BLOCK_SIZE), blockAtBufferEdge(), noise(GZIP_BLOCK_SIZE + 999, 3)]);
    for (const level of [0, 1, 4, 5, 6, 9]) {
      const out = await gzipWith(pool, data, level);
      expect(out.equals(reference(data, level)), `level ${level}`).toBe(true);
    }
    expect(gunzipSync(await gzipWith(pool, Buffer.alloc(0), 6)).length).toBe(0);
  });

  it('stores the blocks deflate cannot shrink, as libuv\'s path does', async () => {
    const pool = newPool(2);
    const data = Buffer.concat([noise(2 * GZIP_BLOCK_SIZE, 31), mixed(GZIP_BLOCK_SIZE)]);
    const out = await gzipWith(pool, data, 4);
    // BTYPE 00 in the first block's header: stored.
    expect((out[10] as number) & 0b111).toBe(0);
    expect(out.equals(reference(data, 4))).toBe(true);
    expect(out.equals(await collect(Readable.from([data]).pipe(createParallelGzip({ level: 4 }))))).toBe(true);
    // A stored last block, of a size whose bytes the async API cut differently.
    for (const [level, tail] of [
      [4, 131_072],
      [0, 40_000],
    ] as const) {
      const ending = Buffer.concat([mixed(GZIP_BLOCK_SIZE), noise(tail, tail)]);
      expect((await gzipWith(pool, ending, level)).equals(reference(ending, level)), `level ${level}, last block ${tail}`).toBe(true);
    }
  });

  it('deflates on threads of a lower priority, which go when it closes', async () => {
    // Relative to this process's own nice value (a test run under `nice` too).
    const lowered = Math.min(19, getPriority() + DEFLATE_NICE);
    const before = await threadsAt(lowered);
    const pool = newPool(2);
    await Promise.all([0, 1, 2, 3].map((i) => pool.deflate(mixed(GZIP_BLOCK_SIZE, i), { level: 6, finishFlush: constants.Z_SYNC_FLUSH })));
    expect((await threadsAt(lowered)) - before).toBe(2);
    await pool.close();
    // terminate() resolves once the threads have stopped; the kernel may list them a moment longer.
    await expect.poll(async () => (await threadsAt(lowered)) - before, { timeout: 10_000 }).toBe(0);
  });

  it('adds to the nice value hoist was started with', async () => {
    const script = `
      import { readdirSync, readFileSync } from 'node:fs';
      const { DeflatePool } = await import(${JSON.stringify(path.join(REPO_ROOT, 'dist/snapshot/deflate-pool.js'))});
      const pool = new DeflatePool({ script: ${JSON.stringify(WORKER)}, size: 1 });
      await pool.deflate(Buffer.alloc(1000, 7), { level: 6, finishFlush: 4 });
      const nices = readdirSync('/proc/self/task').map((t) => { const s = readFileSync('/proc/self/task/' + t + '/stat', 'utf8'); return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[16]); });
      console.log(JSON.stringify(nices));
      await pool.close();
    `;
    await withTempDir(async (dir) => {
      const file = path.join(dir, 'niced.mjs');
      await writeFile(file, script);
      const base = Math.min(19, getPriority() + 5);
      const { stdout } = await run('nice', ['-n', '5', process.execPath, file], { timeout: 60_000 });
      const nices = JSON.parse(stdout) as number[];
      expect(nices.filter((n) => n === Math.min(19, base + DEFLATE_NICE))).toHaveLength(1);
      expect(nices.every((n) => n === base || n === Math.min(19, base + DEFLATE_NICE))).toBe(true);
    });
  });

  it('hands the blocks not yet started to another deflater, with the same bytes', async () => {
    const pool = newPool(1);
    const blocks = [0, 1, 2, 3].map((i) => mixed(GZIP_BLOCK_SIZE, i));
    const options = (i: number) => ({ level: 6, finishFlush: constants.Z_SYNC_FLUSH, ...(i > 0 ? { dictionary: (blocks[i - 1] as Buffer).subarray(GZIP_BLOCK_SIZE - 32 * 1024) } : {}) });
    const jobs = blocks.map((b, i) => pool.deflate(b, options(i)));
    const handed: number[] = [];
    // One thread: the first block is on it, the other three wait and go elsewhere.
    pool.handOff(async (data, o) => {
      handed.push(data.length);
      return deflateRawSync(data, o);
    });
    const outs = await Promise.all(jobs);
    expect(handed).toEqual([GZIP_BLOCK_SIZE, GZIP_BLOCK_SIZE, GZIP_BLOCK_SIZE]);
    outs.forEach((out, i) => expect(out.equals(deflateRawSync(blocks[i] as Buffer, options(i))), `block ${i}`).toBe(true));
  });

  it('finishes the stream when no flush is named, as deflateRawSync does', async () => {
    const out = await newPool(1).deflate(Buffer.from('hello, hello, hello'), { level: 6 });
    expect(inflateRawSync(out).toString()).toBe('hello, hello, hello');
  });

  it('reports a block zlib refuses and goes on with the next', async () => {
    const pool = newPool(1);
    await expect(pool.deflate(Buffer.from('x'), { level: 42 })).rejects.toThrow(/deflate failed: .*level/i);
    const out = await pool.deflate(Buffer.from('hello'), { level: 6, finishFlush: constants.Z_FINISH });
    expect(out.length).toBeGreaterThan(0);
  });

  it('fails the blocks still queued when it closes', async () => {
    const pool = newPool(1);
    const jobs = [0, 1, 2].map((i) => pool.deflate(mixed(GZIP_BLOCK_SIZE, i), { level: 9, finishFlush: constants.Z_SYNC_FLUSH }));
    const outcomes = Promise.allSettled(jobs);
    await pool.close();
    const settled = await outcomes;
    expect(settled.filter((s) => s.status === 'rejected').length).toBeGreaterThanOrEqual(2);
    await expect(pool.deflate(Buffer.from('x'), { level: 6 })).rejects.toThrow(/closed/);
  });

  it('does not keep a process alive once its blocks are done', async () => {
    // Left open on purpose: the idle threads must not hold the event loop.
    const script = `
      const { DeflatePool } = await import(${JSON.stringify(path.join(REPO_ROOT, 'dist/snapshot/deflate-pool.js'))});
      const pool = new DeflatePool({ script: ${JSON.stringify(WORKER)}, size: 2 });
      const out = await pool.deflate(Buffer.alloc(100000, 7), { level: 6, finishFlush: 4 });
      console.log(out.length > 0 ? 'deflated' : 'empty');
    `;
    await withTempDir(async (dir) => {
      const file = path.join(dir, 'left-open.mjs');
      await writeFile(file, script);
      const { stdout } = await run(process.execPath, [file], { timeout: 60_000 });
      expect(stdout.trim()).toBe('deflated');
    });
  });
});
