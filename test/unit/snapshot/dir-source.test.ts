import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { chmod, link, lstat, mkdir, readFile, readdir, readlink, symlink, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { HoistError } from '../../../src/errors.js';
import { entriesFromDirectory } from '../../../snapshot/dir-source.js';
import type { LayerEntry } from '../../../snapshot/layer-entry.js';
import { createLayer } from '../../../snapshot/layer-stream.js';
import { collect, gnuExtract, gnuNames, layerBytes, withTempDir } from './fixtures.js';

const run = promisify(execFile);
const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function all(root: string, paths?: string[]): Promise<LayerEntry[]> {
  const out: LayerEntry[] = [];
  for await (const e of entriesFromDirectory(root, paths === undefined ? {} : { paths })) out.push(e);
  return out;
}

/** A tree with one of each kind a rootfs holds. */
async function makeTree(root: string): Promise<void> {
  await mkdir(join(root, 'usr/bin'), { recursive: true });
  await mkdir(join(root, 'tmp'));
  await chmod(join(root, 'tmp'), 0o1777);
  await writeFile(join(root, 'usr/bin/tool'), 'binary\n'.repeat(1000));
  await chmod(join(root, 'usr/bin/tool'), 0o4755);
  await writeFile(join(root, 'usr/bin/a'), 'same inode');
  await link(join(root, 'usr/bin/a'), join(root, 'usr/bin/b'));
  await link(join(root, 'usr/bin/a'), join(root, 'hard-c'));
  await symlink('/etc/passwd', join(root, 'abs-link'));
  await symlink('../../../outside', join(root, 'usr/escape'));
  await symlink('/', join(root, 'rootlink')); // a symlink to a directory: must not be walked into
  await writeFile(join(root, 'empty'), '');
  await writeFile(join(root, 'a-b'), 'sorts after a/');
  await run('mkfifo', [join(root, 'fifo')]);
  const server = createServer();
  servers.push(server);
  await new Promise<void>((r) => server.listen(join(root, 'sock'), r));
  const t = new Date(1_600_000_000_000);
  for (const p of ['usr/bin/tool', 'usr/bin/a', 'empty', 'a-b', 'usr/bin', 'usr', 'tmp']) await utimes(join(root, p), t, t);
}

describe('entriesFromDirectory', () => {
  it('reads every kind via lstat, skips sockets, keys hard links by dev:ino', async () => {
    await withTempDir(async (root) => {
      await makeTree(root);
      const entries = await all(root);
      const byPath = new Map(entries.map((e) => [e.path, e]));
      expect([...byPath.keys()].sort()).toEqual(
        ['a-b', 'abs-link', 'empty', 'fifo', 'hard-c', 'rootlink', 'tmp', 'usr', 'usr/bin', 'usr/bin/a', 'usr/bin/b', 'usr/bin/tool', 'usr/escape'].sort(),
      );
      expect(byPath.get('tmp')).toMatchObject({ kind: 'dir', mode: 0o1777, mtime: 1_600_000_000 });
      expect(byPath.get('usr/bin/tool')).toMatchObject({ kind: 'file', mode: 0o4755, size: 7000, mtime: 1_600_000_000 });
      expect(byPath.get('rootlink')).toMatchObject({ kind: 'symlink', linkname: '/' });
      expect(byPath.get('usr/escape')).toMatchObject({ kind: 'symlink', linkname: '../../../outside' });
      expect(byPath.get('fifo')?.kind).toBe('fifo');
      const keys = ['usr/bin/a', 'usr/bin/b', 'hard-c'].map((p) => (byPath.get(p) as { linkKey?: string }).linkKey);
      expect(keys[0]).toMatch(/^\d+:\d+$/);
      expect(new Set(keys).size).toBe(1);
      expect((byPath.get('usr/bin/tool') as { linkKey?: string }).linkKey).toBeUndefined();
      // Small files come with their bytes (read during the walk); an empty one has none to read.
      expect((byPath.get('usr/bin/tool') as { readWhole?: () => Buffer }).readWhole?.().toString()).toBe('binary\n'.repeat(1000));
      expect((byPath.get('empty') as { readWhole?: () => Buffer }).readWhole).toBeUndefined();
    });
  });

  it('reads the carried xattrs of files, directories and ancestors, not of a symlink\'s target', async () => {
    await withTempDir(async (root) => {
      await mkdir(join(root, 'd/sub'), { recursive: true });
      await writeFile(join(root, 'd/sub/f'), 'x');
      await symlink('f', join(root, 'd/sub/l'));
      await run('setfattr', ['-n', 'user.a', '-v', 'test', join(root, 'd/sub/f')]);
      await run('setfattr', ['-n', 'user.d', '-v', 'dir', join(root, 'd')]);
      await run('setfattr', ['-n', 'user.overlay.origin', '-v', 'x', join(root, 'd/sub')]);
      const got = Object.fromEntries((await all(root, ['d/sub'])).map((e) => [e.path, 'xattrs' in e ? e.xattrs : undefined]));
      expect(got).toEqual({ d: { 'user.d': Buffer.from('dir') }, 'd/sub': undefined, 'd/sub/f': { 'user.a': Buffer.from('test') }, 'd/sub/l': undefined });
    });
  });

  it('writes a layer whose order matches GNU tar --sort=name and that GNU tar extracts to the same tree', async () => {
    await withTempDir(async (work) => {
      const root = join(work, 'root');
      await mkdir(root);
      await makeTree(root);
      const { tar } = await layerBytes(entriesFromDirectory(root), { ordered: true });
      expect(tar.equals((await layerBytes(entriesFromDirectory(root))).tar), 'ordered and sorted paths agree').toBe(true);

      const gnu = await run('sh', ['-c', `tar --sort=name --numeric-owner -cf - -C ${root} . | tar -tf -`]);
      const gnuOrder = gnu.stdout
        .trimEnd()
        .split('\n')
        .filter((n) => n !== './' && n !== './sock')
        .map((n) => n.replace(/^\.\//, ''));
      expect(await gnuNames(tar)).toEqual(gnuOrder);

      const out = join(work, 'out');
      await mkdir(out);
      await gnuExtract(tar, out);
      for (const p of ['usr/bin/tool', 'tmp', 'usr/bin/a', 'empty', 'a-b', 'fifo', 'abs-link']) {
        const [a, b] = await Promise.all([lstat(join(root, p)), lstat(join(out, p))]);
        expect([b.mode, b.uid, b.gid, b.size], p).toEqual([a.mode, a.uid, a.gid, a.size]);
        if (!a.isSymbolicLink()) expect(Math.floor(b.mtimeMs / 1000), p).toBe(Math.floor(a.mtimeMs / 1000));
      }
      expect(await readFile(join(out, 'usr/bin/tool'), 'utf8')).toBe('binary\n'.repeat(1000));
      expect(await readlink(join(out, 'usr/escape'))).toBe('../../../outside');
      const [a, b, c] = await Promise.all(['usr/bin/a', 'usr/bin/b', 'hard-c'].map((p) => lstat(join(out, p))));
      expect(new Set([a?.ino, b?.ino, c?.ino]).size).toBe(1);
      expect(await readdir(out)).not.toContain('sock');
    });
  });

  it('gives the same digest for two copies of a tree whose mtimes differ beyond the clamp', async () => {
    await withTempDir(async (work) => {
      const digests: string[] = [];
      for (const [i, when] of [1_700_000_000, 1_750_000_000].entries()) {
        const root = join(work, `copy${i}`);
        await mkdir(join(root, 'etc'), { recursive: true });
        await writeFile(join(root, 'etc/conf'), 'x=1\n');
        for (const p of ['etc/conf', 'etc']) await utimes(join(root, p), when, when);
        digests.push((await layerBytes(entriesFromDirectory(root), { clampMtime: 1_650_000_000 })).result.digest);
      }
      expect(digests[0]).toBe(digests[1]);
    });
  });

  it('with paths: only those subtrees, plus their real ancestors, each once', async () => {
    await withTempDir(async (root) => {
      await mkdir(join(root, 'app/src/lib'), { recursive: true });
      await mkdir(join(root, 'other'));
      await chmod(join(root, 'app'), 0o750);
      await writeFile(join(root, 'app/src/lib/x.js'), 'x');
      await writeFile(join(root, 'app/src/main.js'), 'm');
      await writeFile(join(root, 'app/README'), 'r');
      await writeFile(join(root, 'other/o'), 'o');
      const entries = await all(root, ['app/src/lib', './app/src/main.js', 'app/src/lib/x.js', 'app/src/lib/']);
      expect(entries.map((e) => e.path)).toEqual(['app', 'app/src', 'app/src/lib', 'app/src/lib/x.js', 'app/src/main.js']);
      expect(entries[0]).toMatchObject({ kind: 'dir', mode: 0o750 });
      expect((await all(root, ['.'])).length).toBe(8);
    });
  });

  it('refuses paths that leave the root or look through a symlink, and reports missing ones', async () => {
    await withTempDir(async (root) => {
      await mkdir(join(root, 'real'));
      await writeFile(join(root, 'real/f'), 'f');
      await symlink('real', join(root, 'via'));
      await symlink('/etc', join(root, 'etc'));
      const code = async (paths: string[]): Promise<string | undefined> => {
        try {
          await all(root, paths);
        } catch (err) {
          return err instanceof HoistError ? err.code : String(err);
        }
        return undefined;
      };
      expect(await code(['../x'])).toBe('UNSAFE_PATH');
      expect(await code(['/etc/passwd'])).toBe('UNSAFE_PATH');
      expect(await code(['via/f'])).toBe('UNSAFE_PATH');
      expect(await code(['etc/passwd'])).toBe('UNSAFE_PATH');
      expect(await code(['nope'])).toBe('NOT_FOUND');
      // naming the symlink itself is fine: it is recorded, not followed
      expect(await all(root, ['etc'])).toEqual([expect.objectContaining({ kind: 'symlink', path: 'etc', linkname: '/etc' })]);
    });
  });

  it('fails with FILE_CHANGED when a large file shrinks, grows or is replaced between walk and write', async () => {
    await withTempDir(async (root) => {
      const big = Buffer.alloc(200 * 1024, 'x'); // above the prefetch size: read when written
      for (const change of [
        () => truncate(join(root, 'f'), 2),
        () => writeFile(join(root, 'f'), Buffer.concat([big, Buffer.from('more')])),
        async () => {
          await writeFile(join(root, 'g'), big);
          await run('mv', [join(root, 'g'), join(root, 'f')]);
        },
      ]) {
        await writeFile(join(root, 'f'), big);
        const entries = await all(root);
        await change();
        const layer = createLayer(entries);
        await expect(collect(layer.stream)).rejects.toMatchObject({ code: 'FILE_CHANGED' });
      }
    });
  });

  it('reads small files during the walk: later changes do not tear the layer', async () => {
    await withTempDir(async (root) => {
      await writeFile(join(root, 'small'), 'before');
      const entries = await all(root);
      await writeFile(join(root, 'small'), 'after, and longer');
      const { tar } = await layerBytes(entries);
      await withTempDir(async (out) => {
        await gnuExtract(tar, out);
        expect(await readFile(join(out, 'small'), 'utf8')).toBe('before');
      });
    });
  });

  it('walks wide directories with subdirectories between files in order', async () => {
    await withTempDir(async (root) => {
      const names: string[] = [];
      for (let i = 0; i < 100; i++) {
        const name = `n${String(i).padStart(3, '0')}`;
        if (i % 7 === 0) {
          await mkdir(join(root, name));
          await writeFile(join(root, name, 'inner'), name);
          names.push(name, `${name}/inner`);
        } else {
          await writeFile(join(root, name), i % 2 === 0 ? name : Buffer.alloc(70_000, i));
          names.push(name);
        }
      }
      const entries = await all(root);
      expect(entries.map((e) => e.path)).toEqual(names);
      const { tar } = await layerBytes(entriesFromDirectory(root), { ordered: true });
      await withTempDir(async (out) => {
        await gnuExtract(tar, out);
        expect(await readFile(join(out, 'n014/inner'), 'utf8')).toBe('n014');
        expect((await readFile(join(out, 'n001'))).equals(Buffer.alloc(70_000, 1))).toBe(true);
      });
    });
  });

  it('records devices with their major and minor numbers (the suite runs as root, like its apt setup)', async () => {
    await withTempDir(async (root) => {
      await run('mknod', [join(root, 'null'), 'c', '1', '3']);
      await run('mknod', [join(root, 'big'), 'b', '259', '65536']);
      const entries = await all(root);
      expect(entries).toEqual([
        expect.objectContaining({ path: 'big', kind: 'block-device', devmajor: 259, devminor: 65536 }),
        expect.objectContaining({ path: 'null', kind: 'char-device', devmajor: 1, devminor: 3 }),
      ]);
    });
  });
});
