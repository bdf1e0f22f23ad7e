import { spawnSync } from 'node:child_process';
import { link, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { normalizeMemberName, TarIndex } from '../../../src/oci/tar-index.js';
import { collect, useTempDirs } from './fixtures.js';

const tempDir = useTempDirs();

async function packFile(file: string, entries: { name: string; data?: string; type?: 'symlink' | 'link' | 'directory'; linkname?: string }[]): Promise<void> {
  const pack = tar.pack();
  const done = collect(Readable.from(pack, { objectMode: false }));
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null): void => (err ? reject(err) : resolve());
      if (e.type === undefined) pack.entry({ name: e.name }, Buffer.from(e.data ?? ''), cb);
      else pack.entry({ name: e.name, type: e.type, linkname: e.linkname }, cb);
    });
  }
  pack.finalize();
  await writeFile(file, await done);
}

describe('TarIndex', () => {
  it('finds members, streams them, and follows symlinks and hardlinks', async () => {
    const dir = await tempDir();
    const file = join(dir, 'a.tar');
    const longName = `${'d'.repeat(120)}/${'f'.repeat(120)}.txt`;
    await packFile(file, [
      { name: './dir', type: 'directory' },
      { name: './dir/file.txt', data: 'hello' },
      { name: 'empty', data: '' },
      { name: longName, data: 'long' },
      { name: 'link/sym', type: 'symlink', linkname: '../dir/file.txt' },
      { name: 'hard', type: 'link', linkname: 'dir/file.txt' },
      { name: 'loop', type: 'symlink', linkname: 'loop' },
      { name: 'escape', type: 'symlink', linkname: '../../etc/passwd' },
    ]);
    const idx = await TarIndex.load(file);
    expect(idx.names()).toContain('dir/file.txt');
    expect((await collect(idx.open('dir/file.txt'))).toString()).toBe('hello');
    expect((await collect(idx.open('./dir/file.txt'))).toString()).toBe('hello');
    expect((await collect(idx.open('empty'))).length).toBe(0);
    expect((await idx.readFile(longName)).toString()).toBe('long');
    expect((await idx.readFile('link/sym')).toString()).toBe('hello');
    expect((await idx.readFile('hard')).toString()).toBe('hello');
    expect((await idx.head('dir/file.txt', 3)).toString()).toBe('hel');
    expect(idx.get('dir')).toBeUndefined();
    expect(idx.get('loop')).toBeUndefined();
    expect(idx.get('escape')).toBeUndefined();
    expect(() => idx.open('missing')).toThrow(/no file "missing"/);
  });

  it('reads GNU and PAX archives made by GNU tar (Debian always has it)', async () => {
    const dir = await tempDir();
    const src = join(dir, 'src');
    const deep = join(src, 'x'.repeat(90), 'y'.repeat(90));
    await mkdir(deep, { recursive: true });
    await writeFile(join(deep, `${'z'.repeat(150)}.txt`), 'deep content');
    await writeFile(join(src, 'plain'), 'plain content');
    await symlink('plain', join(src, 'sym'));
    await link(join(src, 'plain'), join(src, 'hard'));
    const long = `${'x'.repeat(90)}/${'y'.repeat(90)}/${'z'.repeat(150)}.txt`;
    for (const format of ['gnu', 'pax', 'ustar']) {
      if (format === 'ustar') continue; // ustar cannot hold a 150-character file name
      const file = join(dir, `${format}.tar`);
      const r = spawnSync('tar', [`--format=${format}`, '-cf', file, '-C', src, '.'], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      const idx = await TarIndex.load(file);
      expect((await idx.readFile(long)).toString()).toBe('deep content');
      expect((await idx.readFile('sym')).toString()).toBe('plain content');
      expect((await idx.readFile('hard')).toString()).toBe('plain content');
      expect((await idx.readFile('plain')).toString()).toBe('plain content');
    }
  });

  it('refuses a corrupted header and a truncated archive', async () => {
    const dir = await tempDir();
    const file = join(dir, 'a.tar');
    await packFile(file, [{ name: 'f', data: 'x'.repeat(2000) }]);
    const good = await readFile(file);
    const badSum = Buffer.from(good);
    badSum.writeUInt8(badSum.readUInt8(10) ^ 1, 10);
    await writeFile(join(dir, 'sum.tar'), badSum);
    await expect(TarIndex.load(join(dir, 'sum.tar'))).rejects.toMatchObject({ code: 'BAD_ARCHIVE' });
    await writeFile(join(dir, 'short.tar'), good.subarray(0, 1024));
    await expect(TarIndex.load(join(dir, 'short.tar'))).rejects.toThrow(/runs past the end/);
  });

  it('normalises member names and refuses escapes', () => {
    expect(normalizeMemberName('./a//b/')).toBe('a/b');
    expect(normalizeMemberName('/abs/path')).toBe('abs/path');
    expect(normalizeMemberName('a/../../b')).toBe('b');
    expect(normalizeMemberName('.')).toBeUndefined();
  });
});
