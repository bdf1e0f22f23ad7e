import { link, mkdir, open, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import * as tarStream from 'tar-stream';
import { describe, expect, it } from 'vitest';
import {
  encodePaxRecords,
  END_OF_ARCHIVE,
  readTar,
  readTarFile,
  tarChunks,
  TarError,
  type TarHeader,
  type TarMemberInput,
} from '../../../src/tar/index.js';
import { collect, inPieces, padded, rawBlock, readAll, run, useTempDirs } from './fixtures.js';

const tempDir = useTempDirs();

function member(header: Partial<TarHeader> & { name: string }, content?: Buffer): TarMemberInput {
  const h: TarHeader = { type: 'file', mode: 0o644, uid: 0, gid: 0, size: content?.length ?? 0, mtime: 1_700_000_000, ...header };
  return content === undefined ? { header: h } : { header: h, open: () => [content] };
}

async function tarOf(members: TarMemberInput[]): Promise<Buffer> {
  return collect(tarChunks(members));
}

describe('readTar: what src/tar writes comes back', () => {
  it('round-trips long, non-ASCII and split names, long links, big ids, negative mtimes, owners, devices and binary xattrs', async () => {
    const cap = Buffer.from([1, 0, 0, 2, 0xff, 0x0a, 0, 0x3d]);
    const longName = `${'d'.repeat(150)}/${'e'.repeat(150)}/f`;
    const split = `${'p'.repeat(120)}/${'n'.repeat(90)}`;
    const tar = await tarOf([
      member({ name: 'dir/', type: 'dir', mode: 0o1777 }),
      member({ name: longName, uid: 10_000_000, gid: 0o7777777 + 1, mode: 0o4755 }, Buffer.from('long')),
      member({ name: split }, Buffer.from('split')),
      member({ name: 'ünï/çødé', mtime: -86_400 }, Buffer.from('é')),
      member({ name: 'sym', type: 'symlink', mode: 0o777, linkname: `/${'t'.repeat(200)}` }),
      member({ name: 'hard', type: 'link', linkname: longName }),
      member({ name: 'dev/null', type: 'char-device', devmajor: 1, devminor: 3, uname: 'root', gname: 'a-group-name-longer-than-32-bytes!' }),
      member({ name: 'cap', xattrs: { 'security.capability': cap, 'user.text': 'plain' }, pax: { comment: 'kept' } }, Buffer.from('x')),
    ]);
    const got = await readAll(inPieces(tar, 1000));
    expect(got.map((m) => m.header.name)).toEqual(['dir/', longName, split, 'ünï/çødé', 'sym', 'hard', 'dev/null', 'cap']);
    expect(got[0]?.header).toMatchObject({ type: 'dir', mode: 0o1777, size: 0 });
    expect(got[1]?.header).toMatchObject({ type: 'file', uid: 10_000_000, gid: 0o7777777 + 1, mode: 0o4755, size: 4 });
    expect(got[1]?.content.toString()).toBe('long');
    expect(got[2]?.content.toString()).toBe('split');
    expect(got[3]?.header.mtime).toBe(-86_400);
    expect(got[3]?.content.toString()).toBe('é');
    expect(got[4]?.header).toMatchObject({ type: 'symlink', linkname: `/${'t'.repeat(200)}` });
    expect(got[5]?.header).toMatchObject({ type: 'link', linkname: longName, size: 0 });
    expect(got[6]?.header).toMatchObject({ type: 'char-device', devmajor: 1, devminor: 3, uname: 'root', gname: 'a-group-name-longer-than-32-bytes!' });
    expect(got[7]?.header.xattrs?.['security.capability']).toEqual(cap);
    expect(got[7]?.header.xattrs?.['user.text']?.toString()).toBe('plain');
    expect(got[7]?.header.pax.comment).toBe('kept');
  });

  it('gives the same members whatever the chunking of the source, one byte at a time included', async () => {
    const tar = await tarOf([member({ name: 'a'.repeat(130) }, Buffer.alloc(1500, 7)), member({ name: 'b' }, Buffer.from('bee'))]);
    const whole = await readAll(inPieces(tar, tar.length));
    for (const size of [1, 511, 513, 4096]) {
      const pieces = await readAll(inPieces(tar, size));
      expect(pieces.map((m) => [m.header.name, m.offset, m.content.toString('hex')])).toEqual(
        whole.map((m) => [m.header.name, m.offset, m.content.toString('hex')]),
      );
    }
  });

  it('skips what a consumer leaves unread, and reports where each content starts', async () => {
    const big = Buffer.alloc(100_000, 1);
    const tar = await tarOf([member({ name: 'big' }, big), member({ name: 'half' }, Buffer.alloc(3000, 2)), member({ name: 'last' }, Buffer.from('end'))]);
    const seen: Array<[string, number]> = [];
    let last = '';
    for await (const entry of readTar(inPieces(tar, 4096))) {
      seen.push([entry.header.name, entry.offset]);
      if (entry.header.name === 'half') {
        for await (const chunk of entry.body) {
          expect(chunk[0]).toBe(2);
          break; // one chunk only
        }
      }
      if (entry.header.name === 'last') last = (await collect(entry.body)).toString();
    }
    expect(last).toBe('end');
    expect(seen).toEqual([
      ['big', 512],
      ['half', 512 + 100_352 + 512],
      ['last', 512 + 100_352 + 512 + 3072 + 512],
    ]);
    expect(tar.subarray(seen[2]?.[1], (seen[2]?.[1] ?? 0) + 3).toString()).toBe('end');
  });

  it('reads the source to its end after the end-of-archive marker, and closes it when left early', async () => {
    const tar = Buffer.concat([await tarOf([member({ name: 'a' }, Buffer.from('1'))]), Buffer.alloc(8192)]);
    let finished = false;
    async function* source(): AsyncGenerator<Buffer> {
      yield* inPieces(tar, 512);
      finished = true;
    }
    await readAll(source());
    expect(finished).toBe(true);

    let closed = false;
    async function* endless(): AsyncGenerator<Buffer> {
      try {
        for (;;) yield* inPieces(await tarOf([member({ name: 'x' }, Buffer.from('y'))]), 512);
      } finally {
        closed = true;
      }
    }
    for await (const entry of readTar(endless())) {
      expect(entry.header.name).toBe('x');
      break;
    }
    expect(closed).toBe(true);

    const stream = Readable.from(inPieces(Buffer.concat([await tarOf([member({ name: 'x' }, Buffer.from('y'))]), Buffer.alloc(1 << 20)]), 512), { objectMode: false });
    for await (const entry of readTar(stream)) {
      expect(entry.header.name).toBe('x');
      break;
    }
    expect(stream.destroyed).toBe(true);
  });

  it('reads what tar-stream writes (an independent writer)', async () => {
    const pack = tarStream.pack();
    pack.entry({ name: 'x'.repeat(120), mode: 0o600, uid: 7, gid: 8, mtime: new Date(1_600_000_000_000) }, 'from tar-stream');
    pack.entry({ name: 'd', type: 'directory' });
    pack.finalize();
    const got = await readAll(Readable.from(pack, { objectMode: false }));
    expect(got[0]?.header).toMatchObject({ name: 'x'.repeat(120), mode: 0o600, uid: 7, gid: 8, mtime: 1_600_000_000, type: 'file' });
    expect(got[0]?.content.toString()).toBe('from tar-stream');
    expect(got[1]?.header.type).toBe('dir');
  });
});

describe('readTar: archives made by GNU tar', () => {
  async function tree(): Promise<{ src: string; long: string }> {
    const dir = await tempDir();
    const src = join(dir, 'src');
    const long = `${'x'.repeat(90)}/${'y'.repeat(90)}/${'z'.repeat(150)}.txt`;
    await mkdir(join(src, 'x'.repeat(90), 'y'.repeat(90)), { recursive: true });
    await writeFile(join(src, long), 'deep content');
    await writeFile(join(src, 'plain'), 'plain content');
    await symlink('l'.repeat(120), join(src, 'longlink'));
    await link(join(src, 'plain'), join(src, 'hard'));
    return { src, long };
  }

  it.each(['gnu', 'oldgnu', 'pax', 'posix'])('reads long names, long links and hard links in --format=%s', async (format) => {
    const { src, long } = await tree();
    const file = join(src, '..', 'a.tar');
    await run('tar', [`--format=${format}`, '--sort=name', '-cf', file, '-C', src, '.']);
    const got = await readAll((await open(file)).createReadStream());
    const byName = new Map(got.map((m) => [m.header.name.replace(/^\.\//, ''), m]));
    expect(byName.get(long)?.content.toString()).toBe('deep content');
    expect(byName.get('longlink')?.header).toMatchObject({ type: 'symlink', linkname: 'l'.repeat(120) });
    const hard = [byName.get('hard'), byName.get('plain')];
    expect(hard.map((m) => m?.header.type).sort()).toEqual(['file', 'link']);
  });

  it('reads V7 and ustar archives (V7 directories are known by their trailing slash)', async () => {
    const dir = await tempDir();
    const src = join(dir, 'src');
    await mkdir(join(src, 'sub'), { recursive: true });
    await writeFile(join(src, 'sub', 'f'), 'v7');
    for (const format of ['v7', 'ustar']) {
      const file = join(dir, `${format}.tar`);
      await run('tar', [`--format=${format}`, '--sort=name', '-cf', file, '-C', src, 'sub']);
      const got = await readAll((await open(file)).createReadStream());
      expect(got.map((m) => [m.header.name, m.header.type])).toEqual([
        ['sub/', 'dir'],
        ['sub/f', 'file'],
      ]);
      expect(got[1]?.content.toString()).toBe('v7');
    }
  });

  it('reads base-256 numbers: a uid past 2^21 and a negative mtime in GNU format', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'f'), 'b256');
    const file = join(dir, 'b.tar');
    await run('tar', ['--format=gnu', '--mtime=@-100000', '--owner=:3000000000', '--group=:5', '-cf', file, '-C', dir, 'f']);
    const raw = await (await open(file)).readFile();
    expect((raw[108] ?? 0) & 0x80).toBe(0x80); // really base-256
    expect(raw[136]).toBe(0xff); // negative base-256
    const [got] = await readAll(inPieces(raw, 512));
    expect(got?.header).toMatchObject({ name: 'f', uid: 3_000_000_000, gid: 5, mtime: -100_000 });
    expect(got?.content.toString()).toBe('b256');
  });

  it('applies PAX mtime with fractions as GNU tar writes it', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'f'), 'pax');
    const file = join(dir, 'p.tar');
    await run('tar', ['--format=pax', '--mtime=@1600000000.25', '-cf', file, '-C', dir, 'f']);
    const [got] = await readAll((await open(file)).createReadStream());
    expect(got?.header.mtime).toBeCloseTo(1_600_000_000.25, 5);
  });
});

describe('readTar: special headers', () => {
  it('applies a PAX global header to every later member, a local one to the next only', async () => {
    const globalData = encodePaxRecords([['uname', 'everyone'], ['comment', 'global']]);
    const localData = encodePaxRecords([['path', 'renamed'], ['comment', 'local']]);
    const body = Buffer.from('data');
    const tar = Buffer.concat([
      rawBlock('g', 'g', globalData.length),
      padded(globalData),
      rawBlock('x', 'x', localData.length),
      padded(localData),
      rawBlock('original', '0', body.length),
      padded(body),
      rawBlock('second', '0', 0),
      END_OF_ARCHIVE,
    ]);
    const got = await readAll(inPieces(tar, 700));
    expect(got.map((m) => [m.header.name, m.header.uname, m.header.pax.comment])).toEqual([
      ['renamed', 'everyone', 'local'],
      ['second', 'everyone', 'global'],
    ]);
    expect(got[0]?.content.toString()).toBe('data');
  });

  it('reads GNU long name and long link records', async () => {
    const name = Buffer.from(`${'n'.repeat(300)}\0`);
    const target = Buffer.from(`${'t'.repeat(200)}\0`);
    const tar = Buffer.concat([
      rawBlock('././@LongLink', 'L', name.length, { magic: 'gnu' }),
      padded(name),
      rawBlock('././@LongLink', 'K', target.length, { magic: 'gnu' }),
      padded(target),
      rawBlock('short', '2', 0, { magic: 'gnu' }),
      END_OF_ARCHIVE,
    ]);
    const [got] = await readAll(inPieces(tar, 512));
    expect(got?.header).toMatchObject({ name: 'n'.repeat(300), type: 'symlink', linkname: 't'.repeat(200) });
  });

  it('hands out other member types as "other" with their typeflag and content', async () => {
    const body = Buffer.from('sparse map');
    const tar = Buffer.concat([rawBlock('s', 'S', body.length, { magic: 'gnu' }), padded(body), END_OF_ARCHIVE]);
    const [got] = await readAll(inPieces(tar, 512));
    expect(got?.header).toMatchObject({ type: 'other', typeflag: 'S', size: body.length });
    expect(got?.content.toString()).toBe('sparse map');
  });
});

describe('readTar: refusals', () => {
  async function failure(tar: Buffer): Promise<TarError> {
    try {
      await readAll(inPieces(tar, 512));
    } catch (err) {
      expect(err).toBeInstanceOf(TarError);
      return err as TarError;
    }
    throw new Error('expected the archive to be refused');
  }

  it('refuses a bad checksum, a bad number and a malformed PAX record as corrupt', async () => {
    const good = await tarOf([member({ name: 'f' }, Buffer.from('x'))]);
    const badSum = Buffer.from(good);
    badSum[10] = (badSum[10] ?? 0) ^ 1;
    expect(await failure(badSum)).toMatchObject({ kind: 'corrupt', message: expect.stringMatching(/checksum at offset 0/) });

    const badSize = rawBlock('f', '0', 0);
    badSize.write('0000000009z\0', 124, 12, 'ascii');
    expect(await failure(Buffer.concat([withSum(badSize), END_OF_ARCHIVE]))).toMatchObject({ kind: 'corrupt', message: expect.stringMatching(/size/) });

    const badPax = Buffer.from('99 path=x\n');
    expect(await failure(Buffer.concat([rawBlock('x', 'x', badPax.length), padded(badPax), rawBlock('f', '0', 0), END_OF_ARCHIVE]))).toMatchObject({
      kind: 'corrupt',
      message: expect.stringMatching(/PAX record/),
    });

    const huge = rawBlock('x', 'x', 2 * 1024 * 1024);
    expect(await failure(huge)).toMatchObject({ kind: 'corrupt', message: expect.stringMatching(/metadata record/) });
  });

  it('refuses an archive cut inside a header or inside content as truncated, naming the member', async () => {
    const good = await tarOf([member({ name: 'f' }, Buffer.alloc(2000, 1))]);
    expect(await failure(good.subarray(0, 1024))).toMatchObject({ kind: 'truncated', message: expect.stringMatching(/"f" at offset 512 runs past the end/) });
    expect(await failure(good.subarray(0, 300))).toMatchObject({ kind: 'truncated' });
  });
});

describe('readTarFile', () => {
  it('reads headers with positioned reads and never the content nobody asks for', async () => {
    const dir = await tempDir();
    const file = join(dir, 'big.tar');
    const big = Buffer.alloc(8 * 1024 * 1024, 3);
    await writeFile(file, await tarOf([member({ name: 'small' }, Buffer.from('s')), member({ name: 'big' }, big), member({ name: 'after' }, Buffer.from('a'))]));
    const handle = await open(file);
    let bytesRead = 0;
    const counting = new Proxy(handle, {
      get(target, prop, receiver) {
        if (prop === 'read') {
          return async (...args: Parameters<typeof handle.read>) => {
            const r = await (target.read as (...a: unknown[]) => Promise<{ bytesRead: number }>)(...args);
            bytesRead += r.bytesRead;
            return r;
          };
        }
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const seen: Array<[string, number, number]> = [];
    try {
      for await (const entry of readTarFile(counting)) {
        seen.push([entry.header.name, entry.offset, entry.header.size]);
        if (entry.header.name === 'after') expect((await collect(entry.body)).toString()).toBe('a');
      }
    } finally {
      await handle.close();
    }
    expect(seen).toEqual([
      ['small', 512, 1],
      ['big', 1536, big.length],
      ['after', 1536 + big.length + 512, 1],
    ]);
    expect(bytesRead).toBeLessThan(256 * 1024);
  });

  it('says which member runs past the end of a cut file', async () => {
    const dir = await tempDir();
    const file = join(dir, 'cut.tar');
    const tar = await tarOf([member({ name: 'whole' }, Buffer.from('w')), member({ name: 'cut' }, Buffer.alloc(5000))]);
    await writeFile(file, tar.subarray(0, 2048));
    const handle = await open(file);
    try {
      await expect(collect(readTarFile(handle))).rejects.toThrow(/"cut" at offset 1536 runs past the end/);
    } finally {
      await handle.close();
    }
  });
});

function withSum(block: Buffer): Buffer {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += block[i] ?? 0;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return block;
}
