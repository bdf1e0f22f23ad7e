import { createHash } from 'node:crypto';
import { lstat, readFile, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { HoistError } from '../../../src/errors.js';
import type { LayerEntry } from '../../../snapshot/layer-entry.js';
import { createTarStream } from '../../../snapshot/layer-tar.js';
import {
  T0,
  collect,
  dir,
  extractWithTarStream,
  file,
  gnuExtract,
  gnuList,
  gnuNames,
  sh,
  symlink,
  tarBytes,
  withTempDir,
} from './fixtures.js';

async function codeOf(entries: LayerEntry[], opts: { ordered?: boolean } = {}): Promise<string | undefined> {
  try {
    await tarBytes(entries, opts);
  } catch (err) {
    return err instanceof HoistError ? err.code : `not a HoistError: ${String(err)}`;
  }
  return undefined;
}

describe('tar writer: order and parents', () => {
  it('sorts entries component-wise and synthesizes missing parents as 0755 root dirs', async () => {
    const tar = await tarBytes([file('b.txt', 'b'), file('a/b/c.txt', 'c'), file('a-b', 'x'), dir('a', { mode: 0o700, uid: 5 }), file('a/z', 'z')]);
    expect(await gnuNames(tar)).toEqual(['a/', 'a/b/', 'a/b/c.txt', 'a/z', 'a-b', 'b.txt']);
    const entries = await extractWithTarStream(tar);
    const byName = new Map(entries.map((e) => [e.header.name, e.header]));
    expect(byName.get('a/')).toMatchObject({ mode: 0o700, uid: 5, type: 'directory' });
    expect(byName.get('a/b/')).toMatchObject({ mode: 0o755, uid: 0, gid: 0, type: 'directory', mtime: new Date(0) });
  });

  it('gives synthesized parents the clamp time', async () => {
    const tar = await tarBytes([file('p/q', 'x', { mtime: 5 })], { clampMtime: 1000 });
    const [p, q] = await extractWithTarStream(tar);
    expect(p?.header).toMatchObject({ name: 'p/', mtime: new Date(1000_000) });
    expect(q?.header.mtime).toEqual(new Date(5000)); // earlier than the clamp: kept
  });

  it('normalises names: no leading ./ or /, directories end in /', async () => {
    const tar = await tarBytes([dir('./etc/'), file('./etc//hosts', 'h')]);
    expect(await gnuNames(tar)).toEqual(['etc/', 'etc/hosts']);
  });

  it('ends with two zero blocks and is a multiple of 512 bytes', async () => {
    const tar = await tarBytes([file('a', 'x'.repeat(700))]);
    expect(tar.length % 512).toBe(0);
    expect(tar.subarray(tar.length - 1024).every((b) => b === 0)).toBe(true);
    expect(tar.length).toBe(512 + 1024 + 1024);
  });

  it('writes no atime or ctime (ustar only, PAX holds none)', async () => {
    const tar = await tarBytes([file('a', 'x', { xattrs: { 'user.a': '1' } })]);
    expect(tar.includes(Buffer.from('atime='))).toBe(false);
    expect(tar.includes(Buffer.from('ctime='))).toBe(false);
  });
});

describe('tar writer: refusals', () => {
  it.each([['/etc/passwd'], ['../x'], ['a/../../b'], ['a/../..']])('refuses %s as UNSAFE_PATH', async (p) => {
    expect(await codeOf([file(p, 'x')])).toBe('UNSAFE_PATH');
  });

  it('refuses a hard link that leaves the root', async () => {
    expect(await codeOf([{ kind: 'hardlink', path: 'a', target: '../etc/shadow', mode: 0o644, uid: 0, gid: 0, mtime: 0 }])).toBe('UNSAFE_PATH');
  });

  it('refuses duplicates, reserved .wh. names and non-directory parents', async () => {
    expect(await codeOf([file('a', '1'), file('./a', '2')])).toBe('DUPLICATE_PATH');
    expect(await codeOf([file('d/.wh.x', '')])).toBe('RESERVED_NAME');
    expect(await codeOf([file('a', '1'), file('a/b', '2')])).toBe('PARENT_NOT_DIRECTORY');
    expect(await codeOf([symlink('a', '/etc'), file('a/passwd', 'x')])).toBe('PARENT_NOT_DIRECTORY');
  });

  it('fails with FILE_CHANGED when content is shorter or longer than the entry says', async () => {
    const short = file('a', 'abc', { size: 4 });
    const long = file('b', 'abcde', { size: 4 });
    expect(await codeOf([short])).toBe('FILE_CHANGED');
    expect(await codeOf([long])).toBe('FILE_CHANGED');
    // The same for bytes a walk read already (a small file that grew or shrank since its stat).
    const read = (name: string, bytes: number): LayerEntry => ({ ...file(name, ''), size: 5, readWhole: () => Buffer.alloc(bytes, 1), open: () => expect.unreachable('opened') });
    expect(await codeOf([read('c', 6)])).toBe('FILE_CHANGED');
    expect(await codeOf([read('d', 4)])).toBe('FILE_CHANGED');
    expect(await codeOf([read('e', 5)])).toBeUndefined();
  });

  it('takes a small file through readWhole, never its stream, and checks its size the same way', async () => {
    const reads: string[] = [];
    const whole = (name: string, text: string, size = text.length): LayerEntry => ({
      ...file(name, ''),
      size,
      readWhole: () => {
        reads.push(name);
        return Buffer.from(text);
      },
      open: () => expect.unreachable('opened'),
    });
    const members = await extractWithTarStream(await tarBytes([whole('a', 'hello'), whole('b', 'world!')]));
    expect(members.map((e) => [e.header.name, e.data.toString()])).toEqual([
      ['a', 'hello'],
      ['b', 'world!'],
    ]);
    expect(reads).toEqual(['a', 'b']);
    expect(await codeOf([whole('c', 'abcdef', 5)])).toBe('FILE_CHANGED');
    expect(await codeOf([whole('d', 'abcd', 5)])).toBe('FILE_CHANGED');
  });
});

describe('tar writer: PAX', () => {
  const long100 = `${'n'.repeat(101)}`;
  const long255 = `${'d'.repeat(150)}/${'e'.repeat(150)}/${'f'.repeat(60)}`; // 362 chars, no prefix split fits
  const longLink = `/${'t'.repeat(150)}`;

  it('round-trips names longer than 100 and 255 bytes, long link names, non-ASCII names and a uid of 10,000,000', async () => {
    const entries: LayerEntry[] = [
      file(long100, 'a'),
      file(long255, 'b', { uid: 10_000_000, gid: 20_000_000 }),
      symlink('s', longLink),
      file('ünïcødé/ファイル', 'c'),
    ];
    const tar = await tarBytes(entries);
    const list = await gnuList(tar);
    expect(list.some((l) => l.includes(' 10000000/20000000 ') && l.endsWith(long255))).toBe(true);
    expect(list.some((l) => l.endsWith(`s -> ${longLink}`))).toBe(true);
    expect(list.some((l) => l.endsWith(long100))).toBe(true);
    expect(list.some((l) => l.endsWith('ünïcødé/ファイル'))).toBe(true);

    const read = await extractWithTarStream(tar);
    const names = read.map((e) => e.header.name);
    expect(names).toContain(long100);
    expect(names).toContain(long255);
    expect(names).toContain('ünïcødé/ファイル');
    const big = read.find((e) => e.header.name === long255);
    expect(big?.header.pax).toMatchObject({ uid: '10000000', gid: '20000000' });
    expect(big?.data.toString()).toBe('b');
    expect(read.find((e) => e.header.name === 's')?.header.linkname).toBe(longLink);

    await withTempDir(async (d) => {
      await gnuExtract(tar, d);
      const st = await stat(join(d, long255));
      expect([st.uid, st.gid]).toEqual([10_000_000, 20_000_000]);
      expect(await readFile(join(d, long100), 'utf8')).toBe('a');
      expect(await readlink(join(d, 's'))).toBe(longLink);
    });
  });

  it('puts long names in the ustar prefix when they split, without PAX', async () => {
    const parent = `${'p'.repeat(60)}/${'r'.repeat(59)}`;
    const name = `${parent}/${'q'.repeat(90)}`;
    const tar = await tarBytes([file(name, 'x')]);
    expect(tar.includes(Buffer.from('PaxHeaders'))).toBe(false);
    expect(await gnuNames(tar)).toEqual([`${'p'.repeat(60)}/`, `${parent}/`, name]);
  });
});

describe('tar writer: modes, links, special files', () => {
  it('preserves setuid, setgid and sticky bits through GNU tar', async () => {
    const tar = await tarBytes([
      file('bin/su', '#!', { mode: 0o4755 }),
      file('bin/wall', '#!', { mode: 0o2755, gid: 5 }),
      dir('tmp', { mode: 0o1777 }),
      dir('bin'),
    ]);
    const list = await gnuList(tar);
    expect(list.find((l) => l.endsWith('bin/su'))).toMatch(/^-rwsr-xr-x /);
    expect(list.find((l) => l.endsWith('bin/wall'))).toMatch(/^-rwxr-sr-x /);
    expect(list.find((l) => l.endsWith('tmp/'))).toMatch(/^drwxrwxrwt /);
    await withTempDir(async (d) => {
      await gnuExtract(tar, d);
      expect((await stat(join(d, 'bin/su'))).mode & 0o7777).toBe(0o4755);
      expect((await stat(join(d, 'bin/wall'))).mode & 0o7777).toBe(0o2755);
      expect((await stat(join(d, 'tmp'))).mode & 0o7777).toBe(0o1777);
    });
  });

  it('writes files sharing a linkKey as one file then link entries, content once', async () => {
    const content = 'shared content';
    const tar = await tarBytes([
      file('z/last', content, { linkKey: '1:42' }),
      file('a/first', content, { linkKey: '1:42' }),
      file('m/middle', content, { linkKey: '1:42' }),
      file('solo', 'solo'),
    ]);
    const read = await extractWithTarStream(tar);
    const members = read.filter((e) => ['a/first', 'm/middle', 'z/last'].includes(e.header.name));
    expect(members.map((e) => [e.header.name, e.header.type, e.header.linkname ?? null])).toEqual([
      ['a/first', 'file', null],
      ['m/middle', 'link', 'a/first'],
      ['z/last', 'link', 'a/first'],
    ]);
    expect(members[0]?.data.toString()).toBe(content);
    expect(tar.toString('latin1').split(content).length - 1).toBe(1);
    await withTempDir(async (d) => {
      await gnuExtract(tar, d);
      const [a, z] = await Promise.all([stat(join(d, 'a/first')), stat(join(d, 'z/last'))]);
      expect(a.ino).toBe(z.ino);
      expect(a.nlink).toBe(3);
    });
  });

  it('turns an explicit hardlink that sorts before its target into the content carrier', async () => {
    const tar = await tarBytes([file('b/target', 'T'), { kind: 'hardlink', path: 'a/link', target: 'b/target', mode: 0o600, uid: 0, gid: 0, mtime: T0 }]);
    const read = await extractWithTarStream(tar);
    expect(read.filter((e) => e.header.type !== 'directory').map((e) => [e.header.name, e.header.type, e.header.linkname ?? null, e.data.toString()])).toEqual([
      ['a/link', 'file', null, 'T'],
      ['b/target', 'link', 'a/link', ''],
    ]);
  });

  it('keeps a hardlink to a lower-layer path as a link entry', async () => {
    const tar = await tarBytes([{ kind: 'hardlink', path: 'usr/bin/b', target: 'usr/bin/a', mode: 0o755, uid: 0, gid: 0, mtime: T0 }]);
    const read = await extractWithTarStream(tar);
    expect(read.at(-1)?.header).toMatchObject({ name: 'usr/bin/b', type: 'link', linkname: 'usr/bin/a' });
  });

  it('refuses a hardlink to a directory and hardlink cycles', async () => {
    expect(await codeOf([dir('d'), { kind: 'hardlink', path: 'l', target: 'd', mode: 0, uid: 0, gid: 0, mtime: 0 }])).toBe('INVALID_HARDLINK');
    const l = (path: string, target: string): LayerEntry => ({ kind: 'hardlink', path, target, mode: 0, uid: 0, gid: 0, mtime: 0 });
    expect(await codeOf([l('a', 'b'), l('b', 'a')])).toBe('INVALID_HARDLINK');
  });

  it('stores symlinks verbatim, absolute and relative, without following them', async () => {
    const tar = await tarBytes([symlink('bin/sh', '/bin/busybox'), symlink('lib', 'usr/lib'), symlink('up', '../../..')]);
    const list = await gnuList(tar);
    expect(list.filter((l) => l.startsWith('l'))).toEqual([
      expect.stringMatching(/^lrwxrwxrwx 0\/0 .* bin\/sh -> \/bin\/busybox$/),
      expect.stringMatching(/ lib -> usr\/lib$/),
      expect.stringMatching(/ up -> \.\.\/\.\.\/\.\.$/),
    ]);
  });

  it('writes devices and fifos that GNU tar recreates', async () => {
    const tar = await tarBytes([
      { kind: 'char-device', path: 'dev/null', mode: 0o666, uid: 0, gid: 0, mtime: T0, devmajor: 1, devminor: 3 },
      { kind: 'block-device', path: 'dev/loop9', mode: 0o660, uid: 0, gid: 6, mtime: T0, devmajor: 7, devminor: 9 },
      { kind: 'fifo', path: 'run/fifo', mode: 0o600, uid: 0, gid: 0, mtime: T0 },
    ]);
    const list = await gnuList(tar);
    expect(list.find((l) => l.endsWith('dev/null'))).toMatch(/^crw-rw-rw- 0\/0 +1,3 /);
    expect(list.find((l) => l.endsWith('dev/loop9'))).toMatch(/^brw-rw---- 0\/6 +7,9 /);
    expect(list.find((l) => l.endsWith('run/fifo'))).toMatch(/^prw------- /);
    if (process.getuid?.() === 0) {
      await withTempDir(async (d) => {
        await gnuExtract(tar, d);
        const st = await lstat(join(d, 'dev/null'));
        expect(st.isCharacterDevice()).toBe(true);
        expect((await lstat(join(d, 'run/fifo'))).isFIFO()).toBe(true);
      });
    }
  });
});

describe('tar writer: whiteouts and opaque directories', () => {
  it('writes .wh.<name> and .wh..wh..opq as empty mode-0 files, the marker first in its directory', async () => {
    const tar = await tarBytes([
      { kind: 'whiteout', path: 'etc/old.conf' },
      { kind: 'whiteout', path: 'gone' },
      file('var/cache/!new', 'n'),
      { kind: 'opaque', path: 'var/cache' },
      file('var/cache/a', 'a'),
    ]);
    expect(await gnuNames(tar)).toEqual(['.wh.gone', 'etc/', 'etc/.wh.old.conf', 'var/', 'var/cache/', 'var/cache/.wh..wh..opq', 'var/cache/!new', 'var/cache/a']);
    const read = await extractWithTarStream(tar);
    for (const e of read.filter((x) => x.header.name.includes('.wh.'))) {
      expect(e.header).toMatchObject({ type: 'file', size: 0, mode: 0, uid: 0, gid: 0, mtime: new Date(0) });
    }
  });

  it('refuses an opaque marker on a path the layer has as a file', async () => {
    expect(await codeOf([file('x', '1'), { kind: 'opaque', path: 'x' }])).toBe('PARENT_NOT_DIRECTORY');
  });
});

describe('tar writer: xattrs', () => {
  it('writes SCHILY.xattr records that GNU tar --xattrs restores, binary values included', async () => {
    const cap = Buffer.from('0100000200200000000000000000000000000000', 'hex'); // cap_net_raw+ep, with NUL bytes
    const tar = await tarBytes([file('bin/ping', 'elf', { mode: 0o755, xattrs: { 'user.comment': 'héllo', 'security.capability': cap } })]);
    const read = await extractWithTarStream(tar);
    const ping = read.find((e) => e.header.name === 'bin/ping');
    expect(ping?.header.pax?.['SCHILY.xattr.user.comment']).toBe('héllo');
    const body = tar.subarray(tar.indexOf('SCHILY.xattr.security.capability=') + 'SCHILY.xattr.security.capability='.length);
    expect(body.subarray(0, cap.length).equals(cap)).toBe(true);
    await withTempDir(async (d) => {
      await gnuExtract(tar, d);
      // getfattr is not installed; GNU tar itself lists what it restored.
      const listed = await sh('tar', ['--xattrs', '--xattrs-include=*', '-tvvf', `${d}.tar`]);
      expect(listed).toContain('user.comment');
      expect(await readFile(join(d, 'bin/ping'), 'utf8')).toBe('elf');
      const attr = await sh('python3', ['-c', `import os,sys; sys.stdout.write(os.getxattr(${JSON.stringify(join(d, 'bin/ping'))}, 'user.comment').decode())`]).catch(() => null);
      if (attr !== null) expect(attr).toBe('héllo');
    });
  });
});

describe('tar writer: streaming', () => {
  it('opens each file only when it reaches it, and reads it once', async () => {
    const opened: string[] = [];
    const entries = ['c', 'a', 'b'].map((p) => file(p, p.repeat(1000), { open: () => (opened.push(p), Readable.from([Buffer.from(p.repeat(1000))])) }));
    const stream = createTarStream(entries);
    expect(opened).toEqual([]);
    await collect(stream);
    expect(opened).toEqual(['a', 'b', 'c']);
  });

  it('accepts an async iterable of entries', async () => {
    async function* gen(): AsyncGenerator<LayerEntry> {
      yield file('b', 'b');
      yield file('a', 'a');
    }
    expect(await gnuNames(await tarBytes(gen()))).toEqual(['a', 'b']);
  });
});

describe('tar writer: ordered sources', () => {
  // A whiteout sorts by its tar name: `.wh.z` comes before `a`.
  const inOrder = (): LayerEntry[] => [
    { kind: 'whiteout', path: 'z' },
    dir('a'),
    file('a/b/c', 'c', { linkKey: 'i1' }),
    { kind: 'opaque', path: 'a/d' },
    file('a/d/e', 'e'),
    file('a-b', 'x', { linkKey: 'i1' }),
  ];

  it('writes an ordered source as it comes, byte-identical to the sorted path', async () => {
    const ordered = await tarBytes(inOrder(), { ordered: true });
    expect(ordered.equals(await tarBytes([...inOrder()].reverse()))).toBe(true);
    expect(await gnuNames(ordered)).toEqual(['.wh.z', 'a/', 'a/b/', 'a/b/c', 'a/d/', 'a/d/.wh..wh..opq', 'a/d/e', 'a-b']);
  });

  it('refuses entries out of order, duplicates, and non-directory parents as they arrive', async () => {
    expect(await codeOf([file('b', 'b'), file('a', 'a')], { ordered: true })).toBe('ENTRY_ORDER');
    expect(await codeOf([file('a-b', 'b'), file('a/c', 'a')], { ordered: true })).toBe('ENTRY_ORDER');
    expect(await codeOf([file('a', 'b'), file('a', 'a')], { ordered: true })).toBe('DUPLICATE_PATH');
    expect(await codeOf([file('a', 'b'), file('a/c', 'a')], { ordered: true })).toBe('PARENT_NOT_DIRECTORY');
  });

  it('refuses an explicit hard link that comes before its target', async () => {
    const link: LayerEntry = { kind: 'hardlink', path: 'a', target: 'b', mode: 0o644, uid: 0, gid: 0, mtime: T0 };
    expect(await codeOf([link, file('b', 'B')], { ordered: true })).toBe('INVALID_HARDLINK');
    // a hard link after its target is fine
    const tar = await tarBytes([file('a', 'A'), { ...link, path: 'b', target: 'a' }], { ordered: true });
    expect((await extractWithTarStream(tar)).map((e) => [e.header.name, e.header.type])).toEqual([
      ['a', 'file'],
      ['b', 'link'],
    ]);
  });
});

describe('tar writer: bytes are forever', () => {
  it('writes the same bytes as before the codec moved to src/tar (a layer digest never changes)', async () => {
    // Pinned from snapshot/tar-writer.ts before src/tar existed: every header
    // path (ustar split, PAX path/ids/linkpath/xattrs, links, devices,
    // whiteouts, clamp) must keep its exact encoding.
    const T = 1_700_000_000;
    const f = (path: string, content: string, extra: Partial<Extract<LayerEntry, { kind: 'file' }>> = {}): LayerEntry =>
      file(path, content, { mtime: T, ...extra });
    const entries: LayerEntry[] = [
      dir('etc', { mtime: T }),
      f('etc/passwd', 'root:x:0:0::/root:/bin/sh\n'),
      f(`${'d'.repeat(120)}/${'f'.repeat(90)}`, 'split'),
      f(`${'p'.repeat(200)}/x`, 'pax path'),
      f('ünïcode/ß', 'utf8', { uid: 10_000_000, gid: 20_000_000, mode: 0o4755 }),
      f('bin/a', 'same inode', { linkKey: '1:2' }),
      f('bin/b', 'same inode', { linkKey: '1:2' }),
      f('big', 'x'.repeat(70_000), { mtime: T + 1000 }),
      f('caps', 'c', { xattrs: { 'security.capability': Buffer.from([1, 0, 0, 2, 0xff, 0]), 'user.a': 'b' } }),
      symlink('lnk', `/${'t'.repeat(150)}`, { mtime: T }),
      { kind: 'char-device', path: 'dev/null', devmajor: 1, devminor: 3, mode: 0o666, uid: 0, gid: 0, mtime: T },
      { kind: 'fifo', path: 'run/fifo', mode: 0o600, uid: 0, gid: 0, mtime: T },
      { kind: 'whiteout', path: 'gone' },
      { kind: 'opaque', path: 'var' },
    ];
    const tar = await tarBytes(entries, { clampMtime: T + 500 });
    expect(createHash('sha256').update(tar).digest('hex')).toBe('514359ee8df3c7157074c4088b0331cacae639fad149c253f0455e631f78ef70');
  });
});
