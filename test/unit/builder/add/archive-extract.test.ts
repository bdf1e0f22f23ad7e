import { createHash } from 'node:crypto';
import { chmod, link, mkdir, readdir, readFile, symlink as fsSymlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { HoistError } from '../../../../src/errors.js';
import { archiveEntries, type ArchiveEntries } from '../../../../src/builder/add/archive.js';
import type { LayerEntry } from '../../../../snapshot/layer-entry.js';
import { createTarStream } from '../../../../snapshot/layer-tar.js';
import {
  byPath,
  contentOf,
  dir,
  file,
  hardlink,
  packMembers,
  patchNegativeMtime,
  patchTypeflag,
  readAll,
  run,
  sha256Of,
  symlink,
  withTempDir,
  writeArchive,
  type Packing,
  type TestMember,
} from './fixtures.js';

const T = 1_600_000_000;

/** Writes the members as an archive, extracts it, hands the result to `fn`, then cleans up. */
async function extracted<R>(
  members: readonly TestMember[],
  fn: (x: ArchiveEntries, byName: Map<string, LayerEntry>) => Promise<R>,
  opts: { packing?: Packing; dest?: string; uid?: number; gid?: number; mtimeClamp?: number } = {},
): Promise<R> {
  return withTempDir(async (d) => {
    const f = join(d, 'archive.bin');
    await writeArchive(f, members, opts.packing ?? 'gzip');
    const { packing: _p, dest, ...rest } = opts;
    const x = await archiveEntries(f, dest ?? '', { ...rest, spoolDir: d });
    try {
      return await fn(x, byPath(x.entries));
    } finally {
      await x.cleanup();
    }
  });
}

async function failure(members: readonly TestMember[], dest = 'dest'): Promise<HoistError> {
  return withTempDir(async (d) => {
    const f = join(d, 'archive.tar.gz');
    await writeArchive(f, members, 'gzip');
    const err = await archiveEntries(f, dest, { spoolDir: d }).then(
      () => new Error('extraction succeeded'),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(HoistError);
    // A failed extraction leaves no spool behind.
    expect((await readdir(d)).filter((n) => n.startsWith('hoist-add-'))).toEqual([]);
    return err as HoistError;
  });
}

describe('archiveEntries: what comes out', () => {
  it('yields dirs, files, symlinks and devices with modes, owners and mtimes, rooted at destDir, in layer order', async () => {
    const members: TestMember[] = [
      dir('bin/', { mode: 0o755, uid: 0, gid: 0, mtime: new Date(T * 1000) }),
      file('bin/tool', '#!/bin/sh\necho tool\n', { mode: 0o4755, uid: 0, gid: 0, mtime: new Date((T + 5) * 1000) }),
      file('bin/group', 'g', { mode: 0o2711, uid: 1000, gid: 50 }),
      dir('tmp/', { mode: 0o1777 }),
      file('home/user/.profile', 'export A=1\n', { mode: 0o600, uid: 1234, gid: 5678 }),
      symlink('bin/sh', '/usr/bin/busybox', { uid: 7, gid: 8 }),
      symlink('rel', '../../../../outside'),
      { header: { name: 'dev/null', type: 'character-device', mode: 0o666, devmajor: 1, devminor: 3, mtime: new Date(T * 1000) } },
      { header: { name: 'dev/sda', type: 'block-device', mode: 0o660, devmajor: 8, devminor: 0, mtime: new Date(T * 1000) } },
      { header: { name: 'run/pipe', type: 'fifo', mode: 0o644, mtime: new Date(T * 1000) } },
      file('empty', ''),
    ];
    await extracted(
      members,
      async (x, m) => {
        expect(x.format).toBe('gzip');
        expect(x.entries.map((e) => e.path)).toEqual([
          'app/data/bin',
          'app/data/bin/group',
          'app/data/bin/sh',
          'app/data/bin/tool',
          'app/data/dev/null',
          'app/data/dev/sda',
          'app/data/empty',
          'app/data/home/user/.profile',
          'app/data/rel',
          'app/data/run/pipe',
          'app/data/tmp',
        ]);
        expect(m.get('app/data/bin')).toMatchObject({ kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: T });
        expect(m.get('app/data/bin/tool')).toMatchObject({ kind: 'file', mode: 0o4755, mtime: T + 5, size: 20 });
        expect(await contentOf(m.get('app/data/bin/tool'))).toBe('#!/bin/sh\necho tool\n');
        expect(m.get('app/data/bin/group')).toMatchObject({ mode: 0o2711, uid: 1000, gid: 50 });
        expect(m.get('app/data/tmp')).toMatchObject({ kind: 'dir', mode: 0o1777 });
        expect(m.get('app/data/home/user/.profile')).toMatchObject({ mode: 0o600, uid: 1234, gid: 5678 });
        expect(await contentOf(m.get('app/data/home/user/.profile'))).toBe('export A=1\n');
        expect(m.get('app/data/bin/sh')).toMatchObject({ kind: 'symlink', linkname: '/usr/bin/busybox', uid: 7, gid: 8 });
        expect(m.get('app/data/rel')).toMatchObject({ kind: 'symlink', linkname: '../../../../outside' }); // verbatim
        expect(m.get('app/data/dev/null')).toMatchObject({ kind: 'char-device', devmajor: 1, devminor: 3, mode: 0o666 });
        expect(m.get('app/data/dev/sda')).toMatchObject({ kind: 'block-device', devmajor: 8, devminor: 0 });
        expect(m.get('app/data/run/pipe')).toMatchObject({ kind: 'fifo' });
        expect(m.get('app/data/empty')).toMatchObject({ kind: 'file', size: 0 });
        expect(await contentOf(m.get('app/data/empty'))).toBe('');
        // Implied parents (home, home/user, dev, run) are left to the writer.
        expect(m.has('app/data/home')).toBe(false);
        expect(x.spooledBytes).toBe(20 + 1 + 11);
      },
      { dest: '/app/data/' },
    );
  });

  it('applies --chown to every member, and clamps mtimes', async () => {
    const members = [
      dir('d/', { uid: 1, gid: 2, mtime: new Date((T + 100) * 1000) }),
      file('d/f', 'x', { uid: 3, gid: 4, mtime: new Date((T - 100) * 1000) }),
      symlink('d/l', 'f', { uid: 5, gid: 6 }),
      // A hard link's header sets the shared inode's metadata, as BuildKit's chown/chmod/chtimes on the new name do.
      hardlink('d/h', 'd/f', { uid: 3, gid: 4, mtime: new Date((T - 50) * 1000) }),
    ];
    await extracted(
      members,
      async (x) => {
        for (const e of x.entries) {
          if (e.kind === 'whiteout' || e.kind === 'opaque') throw new Error('unexpected');
          expect([e.path, e.uid, e.gid]).toEqual([e.path, 1000, 1001]);
        }
        const m = byPath(x.entries);
        expect(m.get('d')).toMatchObject({ mtime: T });
        expect(m.get('d/f')).toMatchObject({ mtime: T - 50 });
        expect(m.get('d/h')).toMatchObject({ mtime: T - 50 });
      },
      { uid: 1000, gid: 1001, mtimeClamp: T },
    );
  });

  it('keeps mtimes before the epoch at 0 and reads PAX mtime/uid/gid', async () => {
    await withTempDir(async (d) => {
      const members: TestMember[] = [
        file('old', 'o', { mtime: new Date(0) }),
        { header: { name: 'big-ids', type: 'file', mode: 0o644, mtime: new Date(0), pax: { uid: '3000000000', gid: '4000000000', mtime: '1700000000.75' } }, content: 'b' },
      ];
      const f = join(d, 'a.tar');
      await writeFile(f, patchNegativeMtime(await readAll(packMembers(members)), 0, -5000));
      const x = await archiveEntries(f, '', { spoolDir: d });
      const m = byPath(x.entries);
      expect(m.get('old')).toMatchObject({ mtime: 0 });
      expect(m.get('big-ids')).toMatchObject({ uid: 3_000_000_000, gid: 4_000_000_000, mtime: 1_700_000_000 });
      await x.cleanup();
    });
  });

  it('handles names and link targets longer than 100 bytes (PAX)', async () => {
    const deep = `${'a'.repeat(60)}/${'b'.repeat(60)}/${'c'.repeat(120)}.txt`;
    const longTarget = `${'t'.repeat(150)}/target`;
    await extracted([file(deep, 'deep'), symlink('short', longTarget), hardlink(`${'h'.repeat(130)}`, deep)], async (_x, m) => {
      expect(await contentOf(m.get(`x/${deep}`))).toBe('deep');
      expect(m.get('x/short')).toMatchObject({ linkname: longTarget });
      expect(await contentOf(m.get(`x/${'h'.repeat(130)}`))).toBe('deep');
    }, { dest: 'x' });
  });

  it('reads GNU tar archives: long names (GNU format), hard links, modes, plain and compressed', async () => {
    await withTempDir(async (d) => {
      const src = join(d, 'src');
      const longName = `${'n'.repeat(120)}/${'m'.repeat(110)}`;
      await mkdir(join(src, longName), { recursive: true });
      await writeFile(join(src, longName, 'f'), 'long');
      await writeFile(join(src, 'a'), 'shared');
      await link(join(src, 'a'), join(src, 'b'));
      await chmod(join(src, 'a'), 0o4750);
      await fsSymlink('a', join(src, 's'));
      await utimes(join(src, 'a'), T, T);
      const kinds: Array<[string[], string]> = [
        [['-cf'], 'tar'],
        [['-czf'], 'gzip'],
      ];
      kinds.push([['-cjf'], 'bzip2']);
      kinds.push([['-cJf'], 'xz']);
      kinds.push([['--zstd', '-cf'], 'zstd']);
      for (const [flags, expected] of kinds) {
        const out = join(d, `gnu-${expected}.bin`);
        await run('tar', ['--format=gnu', '--numeric-owner', '--owner=123', '--group=456', ...flags, out, '-C', src, '.']);
        const x = await archiveEntries(out, 'opt', { spoolDir: d });
        try {
          expect(x.format).toBe(expected);
          const m = byPath(x.entries);
          expect(await contentOf(m.get(`opt/${longName}/f`))).toBe('long');
          const a = m.get('opt/a');
          const b = m.get('opt/b');
          expect(a).toMatchObject({ kind: 'file', mode: 0o4750, uid: 123, gid: 456, mtime: T });
          expect(b).toMatchObject({ kind: 'file', mode: 0o4750, uid: 123, gid: 456 });
          expect(a?.kind === 'file' && b?.kind === 'file' && a.linkKey !== undefined && a.linkKey === b.linkKey).toBe(true);
          expect(await contentOf(b)).toBe('shared');
          expect(m.get('opt/s')).toMatchObject({ kind: 'symlink', linkname: 'a' });
          expect(x.spooledBytes).toBe(expected === 'tar' ? 0 : 'long'.length + 'shared'.length);
        } finally {
          await x.cleanup();
        }
      }
    });
  });

  it('turns hard links into one linkKey group that the layer writer writes as a tar hard link', async () => {
    const members = [file('z/target', 'content!'), hardlink('a/link', 'z/target'), hardlink('/m/abs-link', '/z/target')];
    await extracted(members, async (x, m) => {
      const keys = ['a/link', 'm/abs-link', 'z/target'].map((p) => {
        const e = m.get(p);
        return e?.kind === 'file' ? e.linkKey : 'missing';
      });
      expect(new Set(keys).size).toBe(1);
      expect(keys[0]).toMatch(/^archive:/);
      // The link sorts before its target: the writer makes it carry the content.
      const layer = createTarStream(x.entries);
      const seen: Array<[string, string, string | null | undefined]> = [];
      const extract = tar.extract();
      layer.pipe(extract as unknown as NodeJS.WritableStream);
      for await (const e of extract) {
        const body = await readAll(e as unknown as NodeJS.ReadableStream as never);
        seen.push([e.header.name, e.header.type, e.header.type === 'link' ? e.header.linkname : body.toString()]);
      }
      expect(seen.filter(([n]) => !n.endsWith('/'))).toEqual([
        ['a/link', 'file', 'content!'],
        ['m/abs-link', 'link', 'a/link'],
        ['z/target', 'link', 'a/link'],
      ]);
    });
  });

  it('makes a hard link to a symlink a copy of the symlink', async () => {
    await extracted([symlink('s', 'target'), hardlink('s2', 's')], async (_x, m) => {
      expect(m.get('s2')).toMatchObject({ kind: 'symlink', linkname: 'target' });
    });
  });

  it('lets a later member replace an earlier one; directories merge', async () => {
    const members = [
      file('f', 'first'),
      file('f', 'second'),
      dir('d/', { mode: 0o700 }),
      file('d/keep', 'k'),
      dir('d/', { mode: 0o750, uid: 9 }),
      dir('gone/'),
      file('gone/child', 'c'),
      file('gone', 'now a file'),
      file('orig', 'old inode'),
      hardlink('other', 'orig'),
      file('orig', 'new inode'),
    ];
    await extracted(members, async (_x, m) => {
      expect(await contentOf(m.get('f'))).toBe('second');
      expect(m.get('d')).toMatchObject({ kind: 'dir', mode: 0o750, uid: 9 });
      expect(await contentOf(m.get('d/keep'))).toBe('k');
      expect(await contentOf(m.get('gone'))).toBe('now a file');
      expect(m.has('gone/child')).toBe(false);
      // `other` keeps the replaced inode; `orig` is a new file; neither is a link group any more.
      expect(await contentOf(m.get('other'))).toBe('old inode');
      expect(await contentOf(m.get('orig'))).toBe('new inode');
      expect(m.get('orig')).not.toHaveProperty('linkKey');
    });
  });

  it('follows symlinks the archive created, inside the extraction root', async () => {
    const members = [
      dir('real/'),
      symlink('abs', '/real'),
      symlink('rel', 'real'),
      file('abs/via-abs', '1'),
      file('rel/via-rel', '2'),
      symlink('root', '/'),
      file('root/at-root', '3'),
    ];
    await extracted(
      members,
      async (_x, m) => {
        expect(await contentOf(m.get('dst/real/via-abs'))).toBe('1');
        expect(await contentOf(m.get('dst/real/via-rel'))).toBe('2');
        expect(await contentOf(m.get('dst/at-root'))).toBe('3');
        expect(m.get('dst/abs')).toMatchObject({ kind: 'symlink', linkname: '/real' });
      },
      { dest: 'dst' },
    );
  });

  it('a symlink that climbs above the extraction root stops at the root, as in a chroot (BuildKit)', async () => {
    const members = [symlink('esc', '../../..'), file('esc/etc/passwd', 'x'), dir('sub/'), symlink('sub/up', '../../x'), file('sub/up/f', 'y')];
    await extracted(
      members,
      async (x, m) => {
        expect(await contentOf(m.get('dst/etc/passwd'))).toBe('x');
        expect(await contentOf(m.get('dst/x/f'))).toBe('y');
        expect(m.get('dst/esc')).toMatchObject({ kind: 'symlink', linkname: '../../..' });
        expect(x.entries.every((e) => e.path.startsWith('dst/'))).toBe(true);
      },
      { dest: 'dst' },
    );
  });

  it('keeps .wh. members as plain files (BuildKit does not treat them as whiteouts)', async () => {
    await extracted([file('d/.wh.gone', '')], async (_x, m) => {
      expect(m.get('d/.wh.gone')).toMatchObject({ kind: 'file', size: 0 });
    });
  });

  it('skips the root entry and cleans ./ and .. that stay inside', async () => {
    await extracted([dir('./'), file('./a/../b', 'b'), file('c//d/./e', 'e')], async (x) => {
      expect(x.entries.map((e) => e.path)).toEqual(['b', 'c/d/e']);
    });
  });

  it('roots absolute names under destDir', async () => {
    await extracted(
      [file('/etc/passwd', 'root:x:0:0::/root:/bin/sh\n'), dir('/')],
      async (x) => {
        expect(x.entries.map((e) => e.path)).toEqual(['srv/etc/passwd']);
      },
      { dest: 'srv' },
    );
  });

  it('reads a plain tar without a spool, straight from the archive', async () => {
    const big = Buffer.alloc(3000, 7);
    await extracted(
      [file(`${'p'.repeat(200)}`, 'after a PAX header'), file('big', big), file('small', 's')],
      async (x, m) => {
        expect(x.format).toBe('tar');
        expect(x.spooledBytes).toBe(0);
        expect(await contentOf(m.get('p'.repeat(200)))).toBe('after a PAX header');
        expect(await contentOf(m.get('small'))).toBe('s');
        const e = m.get('big');
        expect(e?.kind === 'file' && (await readAll(e.open())).equals(big)).toBe(true);
      },
      { packing: 'tar' },
    );
  });
});

describe('archiveEntries: refusals', () => {
  it('refuses members that climb out of the destination, naming them', async () => {
    for (const name of ['../evil', 'a/../../evil', '..', '/../x/../../y']) {
      const err = await failure([file('ok', 'fine'), file(name, 'bad')]);
      expect(err.code, name).toBe('UNSAFE_ARCHIVE_PATH');
      expect(err.message).toContain(JSON.stringify(name));
    }
  });

  it('refuses hard links that climb out, point nowhere or at a directory', async () => {
    const out = await failure([file('ok', 'x'), hardlink('l', '../../etc/shadow')]);
    expect(out.code).toBe('UNSAFE_ARCHIVE_PATH');
    const missing = await failure([hardlink('l', 'not-there')]);
    expect(missing.code).toBe('INVALID_HARDLINK');
    expect(missing.message).toContain('"not-there"');
    const toDir = await failure([dir('d/'), hardlink('l', 'd')]);
    expect(toDir.code).toBe('INVALID_HARDLINK');
  });

  it('refuses a symlink loop on the way to a member', async () => {
    const loop = await failure([symlink('a', 'b'), symlink('b', 'a'), file('a/x', 'x')]);
    expect(loop.code).toBe('ARCHIVE_SYMLINK_LOOP');
  });

  it('refuses a member below a file', async () => {
    const err = await failure([file('f', 'x'), file('f/g', 'y')]);
    expect(err.code).toBe('ARCHIVE_PARENT_NOT_DIRECTORY');
  });

  it('refuses member types it cannot represent, and GNU sparse files', async () => {
    await withTempDir(async (d) => {
      const tarBytes = await readAll(packMembers([file('sparse', 'abc')]));
      const f = join(d, 'sparse.tar');
      await writeFile(f, patchTypeflag(tarBytes, 'S'));
      const err = await archiveEntries(f, '', { spoolDir: d }).catch((e: unknown) => e as HoistError);
      expect(err).toMatchObject({ code: 'UNSUPPORTED_ARCHIVE_MEMBER' });
      expect((err as HoistError).message).toContain('"sparse"');
    });
    const pax = await failure([{ header: { name: 'p', type: 'file', mode: 0o644, pax: { 'GNU.sparse.major': '1', 'GNU.sparse.minor': '0' } }, content: 'x' }]);
    expect(pax.code).toBe('UNSUPPORTED_ARCHIVE_MEMBER');
  });

  it('reports a truncated archive as ARCHIVE_CORRUPT and removes the spool', async () => {
    await withTempDir(async (d) => {
      const whole = join(d, 'whole.tar.gz');
      await writeArchive(whole, [file('a', 'x'.repeat(100_000)), file('b', 'y'.repeat(100_000))], 'gzip');
      const bytes = await readFile(whole);
      const cut = join(d, 'cut.tar.gz');
      await writeFile(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
      const err = await archiveEntries(cut, '', { spoolDir: d, format: 'gzip' }).catch((e: unknown) => e as HoistError);
      expect(err).toMatchObject({ code: 'ARCHIVE_CORRUPT' });
      expect((await readdir(d)).filter((n) => n.startsWith('hoist-add-'))).toEqual([]);
    });
  });

  it('reports corrupt xz data with the decompressor message', async () => {
    await withTempDir(async (d) => {
      const f = join(d, 'a.tar.xz');
      await writeArchive(f, [file('a', 'x'.repeat(200_000))], 'xz');
      const bytes = await readFile(f);
      bytes[Math.floor(bytes.length / 2)] = (bytes[Math.floor(bytes.length / 2)] as number) ^ 0xff;
      await writeFile(f, bytes);
      const err = await archiveEntries(f, '', { spoolDir: d, format: 'xz' }).catch((e: unknown) => e as HoistError);
      expect(err).toMatchObject({ code: 'ARCHIVE_CORRUPT' });
      expect((err as HoistError).message).toMatch(/xz/);
    });
  });

  it('refuses a file that is not an archive', async () => {
    await withTempDir(async (d) => {
      await writeFile(join(d, 'a.tar'), 'text');
      await expect(archiveEntries(join(d, 'a.tar'), '')).rejects.toMatchObject({ code: 'NOT_AN_ARCHIVE' });
    });
  });

  it('stops when aborted', async () => {
    await withTempDir(async (d) => {
      const f = join(d, 'a.tar.gz');
      await writeArchive(f, [file('a', 'x')], 'gzip');
      const ac = new AbortController();
      ac.abort(new Error('stop now'));
      await expect(archiveEntries(f, '', { spoolDir: d, signal: ac.signal })).rejects.toThrow('stop now');
    });
  });
});

describe('archiveEntries: spool', () => {
  it('keeps contents in one spool file until cleanup()', async () => {
    await withTempDir(async (d) => {
      const f = join(d, 'a.tgz');
      await writeArchive(f, [file('a', 'aaa'), file('b', 'bb')], 'gzip');
      const x = await archiveEntries(f, '', { spoolDir: d });
      const spools = (await readdir(d)).filter((n) => n.startsWith('hoist-add-'));
      expect(spools).toHaveLength(1);
      expect(await readdir(join(d, spools[0] as string))).toEqual(['contents']);
      expect(x.spooledBytes).toBe(5);
      await x.cleanup();
      await x.cleanup(); // idempotent
      expect((await readdir(d)).filter((n) => n.startsWith('hoist-add-'))).toEqual([]);
    });
  });

  it('streams a 64 MB member through the spool without holding it in memory', async () => {
    const size = 64 * 1024 * 1024;
    const chunk = 1024 * 1024;
    const expected = createHash('sha256');
    const chunks = async function* (): AsyncGenerator<Buffer> {
      for (let i = 0; i < size / chunk; i++) {
        const b = Buffer.alloc(chunk, i % 251);
        b.writeUInt32BE(i, 0);
        expected.update(b);
        yield b;
      }
    };
    await withTempDir(async (d) => {
      const f = join(d, 'big.tar.gz');
      await writeArchive(f, [{ header: { name: 'big.bin', type: 'file', mode: 0o644, size }, chunks }], 'gzip');
      const want = expected.digest('hex');

      const base = process.memoryUsage().rss;
      let peak = base;
      const timer = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss);
      }, 5);
      try {
        const x = await archiveEntries(f, 'data', { spoolDir: d });
        try {
          const e = byPath(x.entries).get('data/big.bin');
          expect(e).toMatchObject({ kind: 'file', size });
          if (e?.kind !== 'file') throw new Error('no file');
          expect(await sha256Of(e.open())).toBe(want);
        } finally {
          await x.cleanup();
        }
      } finally {
        clearInterval(timer);
      }
      peak = Math.max(peak, process.memoryUsage().rss);
      expect(peak - base).toBeLessThan(40 * 1024 * 1024);
    });
  });
});
