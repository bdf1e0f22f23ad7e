import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, readdir, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { fileHandleSink, writeStreamAtomic } from '../../../src/oci/atomic-file.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hoist-atomic-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** 40 MiB in uneven chunks: crosses the sink's background-flush interval several times. */
function chunks(): Buffer[] {
  const out: Buffer[] = [];
  for (let left = 40 << 20, i = 0; left > 0; i++) {
    const n = Math.min(left, 65_536 + ((i * 7919) % 900_000));
    out.push(randomBytes(n));
    left -= n;
  }
  return out;
}

const sha = (b: Buffer | Buffer[]): string => {
  const h = createHash('sha256');
  for (const c of Array.isArray(b) ? b : [b]) h.update(c);
  return h.digest('hex');
};

/**
 * A real FileHandle whose writev takes at most `limit` bytes per call and
 * whose datasync can be made to fail, counting the calls.
 */
function shortWritingHandle(real: FileHandle, limit: number, datasyncError?: Error): { handle: FileHandle; datasyncs: () => number } {
  let datasyncs = 0;
  const handle = Object.create(real) as FileHandle;
  handle.writev = (async (buffers: readonly NodeJS.ArrayBufferView[]) => {
    const take: Buffer[] = [];
    let room = limit;
    for (const b of buffers as Buffer[]) {
      if (room === 0) break;
      const part = b.subarray(0, room);
      take.push(part);
      room -= part.length;
    }
    return real.writev(take);
  }) as FileHandle['writev'];
  handle.datasync = async () => {
    datasyncs++;
    if (datasyncError !== undefined) throw datasyncError;
    return real.datasync();
  };
  return { handle, datasyncs: () => datasyncs };
}

describe('fileHandleSink', () => {
  test('writes every byte in order, flushing in the background as it goes', async () => {
    const data = chunks();
    const file = join(dir, 'big');
    const real = await open(file, 'w');
    const { handle, datasyncs } = shortWritingHandle(real, 1 << 30);
    try {
      await pipeline(Readable.from(data), fileHandleSink(handle));
    } finally {
      await real.close();
    }
    expect(sha(await readFile(file))).toBe(sha(data));
    // One flush at a time: how many run depends on the disk, but 40 MiB starts at least one.
    expect(datasyncs()).toBeGreaterThanOrEqual(1);
  });

  test('backgroundFlush: false (scratch files) never flushes', async () => {
    const data = chunks();
    const file = join(dir, 'scratch');
    const real = await open(file, 'w');
    const { handle, datasyncs } = shortWritingHandle(real, 1 << 30);
    try {
      await pipeline(Readable.from(data), fileHandleSink(handle, { backgroundFlush: false }));
    } finally {
      await real.close();
    }
    expect(sha(await readFile(file))).toBe(sha(data));
    expect(datasyncs()).toBe(0);
  });

  test('short writes are resumed where the kernel stopped', async () => {
    const data = chunks().slice(0, 40);
    const file = join(dir, 'short');
    const real = await open(file, 'w');
    const { handle } = shortWritingHandle(real, 100_003);
    try {
      await pipeline(Readable.from(data), fileHandleSink(handle));
    } finally {
      await real.close();
    }
    expect(sha(await readFile(file))).toBe(sha(data));
  });

  test('a failed background flush fails the stream (the kernel reports it only once)', async () => {
    const real = await open(join(dir, 'eio'), 'w');
    const eio = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    const { handle } = shortWritingHandle(real, 1 << 30, eio);
    try {
      await expect(pipeline(Readable.from(chunks()), fileHandleSink(handle))).rejects.toBe(eio);
    } finally {
      await real.close();
    }
  });
});

describe('writeStreamAtomic', () => {
  test('the target appears whole, and no temp file is left', async () => {
    const data = chunks().slice(0, 30);
    const file = join(dir, 'atomic');
    await writeStreamAtomic(file, Readable.from(data));
    expect(sha(await readFile(file))).toBe(sha(data));
    expect((await readdir(dir)).filter((n) => n.startsWith('atomic.tmp-'))).toEqual([]);
  });

  test('a failing source leaves neither the target nor a temp file', async () => {
    const file = join(dir, 'failed');
    async function* broken(): AsyncGenerator<Buffer> {
      yield randomBytes(10 << 20);
      throw new Error('source broke');
    }
    await expect(writeStreamAtomic(file, Readable.from(broken()))).rejects.toThrow('source broke');
    expect((await readdir(dir)).filter((n) => n.startsWith('failed'))).toEqual([]);
  });
});
