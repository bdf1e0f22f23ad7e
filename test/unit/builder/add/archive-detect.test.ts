import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { HoistError } from '../../../../src/errors.js';
import { detectArchive, isTarHeader } from '../../../../src/builder/add/archive.js';
import { sniffCompression } from '../../../../src/builder/add/decompress.js';
import { compressFile, dir, file, readAll, packMembers, run, withTempDir, writeArchive } from './fixtures.js';

const members = [dir('app/'), file('app/hello.txt', 'hello\n')];
const savedPath = process.env.PATH;

afterEach(() => {
  process.env.PATH = savedPath;
});

describe('sniffCompression', () => {
  it('knows the magic bytes moby knows', () => {
    expect(sniffCompression(Buffer.from([0x1f, 0x8b, 0x08, 0]))).toBe('gzip');
    expect(sniffCompression(Buffer.from('BZh91AY'))).toBe('bzip2');
    expect(sniffCompression(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))).toBe('xz');
    expect(sniffCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))).toBe('zstd');
    expect(sniffCompression(Buffer.from([0x5e, 0x2a, 0x4d, 0x18]))).toBe('zstd'); // skippable frame
    expect(sniffCompression(Buffer.from([0x1f, 0x8b]))).toBe('none'); // too short
    expect(sniffCompression(Buffer.from('hello'))).toBe('none');
  });
});

describe('detectArchive', () => {
  it('recognises a plain tar by content, whatever its name', async () => {
    await withTempDir(async (d) => {
      const f = join(d, 'notes.txt');
      await writeArchive(f, members, 'tar');
      expect(await detectArchive(f)).toBe('tar');
    });
  });

  it('recognises a gzip tar named data.txt', async () => {
    await withTempDir(async (d) => {
      const f = join(d, 'data.txt');
      await writeArchive(f, members, 'gzip');
      expect(await detectArchive(f)).toBe('gzip');
    });
  });

  for (const packing of ['bzip2', 'xz', 'zstd'] as const) {
    it(`recognises a ${packing} tar with a misleading name`, async () => {
      await withTempDir(async (d) => {
        const f = join(d, 'image.png');
        await writeArchive(f, members, packing);
        expect(await detectArchive(f)).toBe(packing);
      });
    });

    it(`says null for ${packing} data that is not a tar`, async () => {
      await withTempDir(async (d) => {
        const plain = join(d, 'plain.txt');
        await writeFile(plain, 'just some text\n'.repeat(100));
        const f = join(d, `plain.${packing}`);
        await compressFile(plain, f, packing);
        expect(await detectArchive(f)).toBeNull();
      });
    });
  }

  it('says null for a gzip file that holds no tar', async () => {
    await withTempDir(async (d) => {
      const f = join(d, 'notes.tar.gz');
      await writeFile(f, gzipSync(Buffer.from('not a tar at all\n'.repeat(100))));
      expect(await detectArchive(f)).toBeNull();
    });
  });

  it('says null for text, an empty file, a file shorter than a block, and text starting with BZh', async () => {
    await withTempDir(async (d) => {
      const cases: Record<string, string | Buffer> = {
        'a.tar': 'hello world\n'.repeat(100),
        'empty.tar.gz': '',
        'short.tar': 'x'.repeat(100),
        'bzh.txt': 'BZh is how this note starts\n'.repeat(40),
        'gzip-truncated.tgz': gzipSync(Buffer.alloc(4096)).subarray(0, 10),
      };
      for (const [name, content] of Object.entries(cases)) {
        await writeFile(join(d, name), content);
        expect(await detectArchive(join(d, name)), name).toBeNull();
      }
    });
  });

  it('says null for an empty tar (only the end-of-archive blocks), like Go tar.Reader.Next', async () => {
    await withTempDir(async (d) => {
      const f = join(d, 'empty.tar');
      await writeFile(f, await readAll(packMembers([])));
      expect(await detectArchive(f)).toBeNull();
    });
  });

  it('says null for a directory', async () => {
    await withTempDir(async (d) => {
      await mkdir(join(d, 'sub.tar'));
      expect(await detectArchive(join(d, 'sub.tar'))).toBeNull();
    });
  });

  it('accepts a V7 header (no ustar magic) and rejects a bad checksum', async () => {
    const tarBytes = await readAll(packMembers(members));
    const v7 = Buffer.from(tarBytes.subarray(0, 512));
    v7.fill(0, 257, 265); // no magic, no version
    v7.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of v7) sum += b;
    v7.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    expect(isTarHeader(v7)).toBe(true);
    const bad = Buffer.from(v7);
    bad[0] = (bad[0] as number) ^ 1;
    expect(isTarHeader(bad)).toBe(false);
  });

  it('recognises archives written by GNU tar with every compression it has', async () => {
    await withTempDir(async (d) => {
      await mkdir(join(d, 'src/sub'), { recursive: true });
      await writeFile(join(d, 'src/sub/a.txt'), 'a');
      const flags: Array<[string, string, string]> = [
        ['-cf', 'plain.bin', 'tar'],
        ['-czf', 'gz.bin', 'gzip'],
      ];
      flags.push(['-cjf', 'bz.bin', 'bzip2']);
      flags.push(['-cJf', 'xz.bin', 'xz']);
      flags.push(['--zstd', 'zst.bin', 'zstd']);
      for (const [flag, out, expected] of flags) {
        const args = flag === '--zstd' ? ['--zstd', '-cf', join(d, out)] : [flag, join(d, out)];
        await run('tar', [...args, '-C', join(d, 'src'), '.']);
        expect(await detectArchive(join(d, out)), out).toBe(expected);
      }
    });
  });

  it('fails clearly when the decompressor is not installed', async () => {
    await withTempDir(async (d) => {
      const f = join(d, 'data.tar.xz');
      await writeArchive(f, members, 'xz');
      await mkdir(join(d, 'empty-bin'));
      process.env.PATH = join(d, 'empty-bin');
      const err = await detectArchive(f).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HoistError);
      expect((err as HoistError).code).toBe('MISSING_DECOMPRESSOR');
      expect((err as HoistError).message).toContain('`xz`');
      expect((err as HoistError).hint).toContain('apt-get install xz-utils bzip2');
    });
  });
});
