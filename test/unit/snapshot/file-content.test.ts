import { lstatSync, mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openRegularFileSync, streamFile } from '../../../snapshot/file-content.js';
import { collect, withTempDir } from './fixtures.js';

function identity(path: string): { size: number; id: { dev: bigint; ino: bigint } } {
  const st = lstatSync(path, { bigint: true });
  return { size: Number(st.size), id: { dev: st.dev, ino: st.ino } };
}

describe('streamFile', () => {
  // Small files are read in one synchronous call, large ones in chunks: both paths keep the same checks.
  it.each([100, 64 * 1024, 64 * 1024 + 1, 600 * 1024])('reads %i bytes only when pulled, and yields more if the file grew', async (size) => {
    await withTempDir(async (d) => {
      const p = join(d, 'f');
      const data = Buffer.alloc(size, 7);
      writeFileSync(p, data);
      const { id } = identity(p);
      const stream = streamFile(p, 'f', size, id);
      writeFileSync(p, Buffer.alloc(size, 8)); // same inode, new bytes: what is read is what is there when pulled
      expect((await collect(stream)).equals(Buffer.alloc(size, 8))).toBe(true);
      writeFileSync(p, Buffer.alloc(size + 10, 9));
      expect((await collect(streamFile(p, 'f', size, id))).length).toBeGreaterThan(size);
    });
  });

  it.each([100, 600 * 1024])('fails with FILE_CHANGED when a %i-byte file was replaced by another inode', async (size) => {
    await withTempDir(async (d) => {
      const p = join(d, 'f');
      writeFileSync(p, Buffer.alloc(size, 1));
      const { id } = identity(p);
      writeFileSync(join(d, 'g'), Buffer.alloc(size, 2));
      renameSync(join(d, 'g'), p);
      await expect(collect(streamFile(p, 'f', size, id))).rejects.toMatchObject({ code: 'FILE_CHANGED' });
    });
  });
});

describe('openRegularFileSync', () => {
  it('gives a small file\'s stat and content from one open, a large one\'s stat only', async () => {
    await withTempDir(async (d) => {
      writeFileSync(join(d, 'small'), 'hello');
      writeFileSync(join(d, 'large'), Buffer.alloc(100, 1));
      writeFileSync(join(d, 'empty'), '');
      const small = openRegularFileSync(join(d, 'small'), 64);
      expect(small?.content?.toString()).toBe('hello');
      expect(small?.stat.ino).toBe(lstatSync(join(d, 'small'), { bigint: true }).ino);
      const large = openRegularFileSync(join(d, 'large'), 64);
      expect(large?.stat.size).toBe(100n);
      expect(large?.content).toBeUndefined();
      expect(openRegularFileSync(join(d, 'empty'), 64)?.content).toBeUndefined();
    });
  });

  it('yields nothing for what is not a regular file, without following a symlink or waiting on a FIFO', async () => {
    await withTempDir(async (d) => {
      writeFileSync(join(d, 'target'), 'secret');
      symlinkSync(join(d, 'target'), join(d, 'link'));
      mkdirSync(join(d, 'dir'));
      execFileSync('mkfifo', [join(d, 'fifo')]);
      for (const name of ['link', 'dir', 'fifo', 'missing']) expect(openRegularFileSync(join(d, name), 64)).toBeUndefined();
    });
  });
});
