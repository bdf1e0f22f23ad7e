/**
 * applyLayers on real directories, with layers written by the project's tar
 * writer, hostile ones included: nothing outside the root may change.
 */
import { createHash } from 'node:crypto';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureDebianPackages } from '../../helpers/packages.js';
import { applyLayers, removeRootfs, type ApplySummary, type LayerInput } from '../../../snapshot/rootfs/index.js';
import { tarChunks, type TarHeader, type TarType } from '../../../src/tar/index.js';

const T0 = 1_700_000_000;
const execFileAsync = promisify(execFile);
const asRoot = process.getuid?.() === 0;

type Member = Partial<TarHeader> & { name: string; data?: string | Buffer };

function header(m: Member): TarHeader {
  const data = m.data === undefined ? undefined : Buffer.from(m.data);
  const type: TarType = m.type ?? (m.name.endsWith('/') ? 'dir' : 'file');
  const { data: _d, ...rest } = m;
  return {
    type,
    mode: type === 'dir' ? 0o755 : type === 'symlink' ? 0o777 : 0o644,
    uid: 0,
    gid: 0,
    mtime: T0,
    ...rest,
    size: data?.length ?? 0,
  };
}

/** Every attribute of `file` itself, values in hex, as getfattr (package attr) prints them. */
async function getfattr(file: string): Promise<Record<string, string>> {
  const { stdout } = await execFileAsync('getfattr', ['-h', '-d', '-e', 'hex', '-m', '-', '--absolute-names', file]);
  const out: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = /^([^#=]+)=(.*)$/.exec(line);
    if (m) out[m[1] as string] = m[2] as string;
  }
  return out;
}

async function layer(members: Member[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const inputs = members.map((m) => {
    const data = m.data === undefined ? undefined : Buffer.from(m.data);
    return data === undefined ? { header: header(m) } : { header: header(m), open: () => [data] };
  });
  for await (const c of tarChunks(inputs)) chunks.push(c);
  return Buffer.concat(chunks);
}

/** Layers as streams, which is how the executor hands them over. */
function streams(...tars: Buffer[]): LayerInput[] {
  return tars.map((t) => Readable.from([t]));
}

/** Every path under `dir` with type, mode, owner, size, content hash, link target and inode link count. */
async function tree(dir: string, skip?: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(d: string, rel: string): Promise<void> {
    for (const name of (await readdir(d)).sort()) {
      const abs = join(d, name);
      if (abs === skip) continue;
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = await lstat(abs);
      let desc = `${(st.mode & 0o170000).toString(8)} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} n${st.nlink} m${Math.floor(st.mtimeMs / 1000)}`;
      if (st.isFile()) desc += ` ${createHash('sha256').update(await readFile(abs)).digest('hex').slice(0, 12)}`;
      if (st.isSymbolicLink()) desc += ` -> ${await readlink(abs)}`;
      out[r] = desc;
      if (st.isDirectory()) await walk(abs, r);
    }
  }
  await walk(dir, '');
  return out;
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
  return undefined;
}

let base: string;
let root: string;
let outside: string;
let outsideBefore: Record<string, string>;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'hoist-rootfs-'));
  root = join(base, 'root');
  outside = join(base, 'outside');
  await mkdir(root);
  await mkdir(join(outside, 'dir'), { recursive: true });
  await writeFile(join(outside, 'secret'), 'keep me');
  await writeFile(join(outside, 'dir', 'victim'), 'victim');
  outsideBefore = await tree(base, root);
});

afterEach(async () => {
  // Nothing outside the root changed, whatever the test did.
  expect(await tree(base, root)).toEqual(outsideBefore);
  await removeRootfs(base);
});

describe('applyLayers: the changeset rules', () => {
  it('merges directories across layers and replaces everything else', async () => {
    const l1 = await layer([
      { name: 'etc/', mode: 0o755 },
      { name: 'etc/a', data: 'a1' },
      { name: 'etc/b', data: 'b1' },
      { name: 'bin/', mode: 0o755 },
      { name: 'bin/sh', data: 'shell', mode: 0o755 },
      { name: 'tree/', mode: 0o755 },
      { name: 'tree/deep/', mode: 0o755 },
      { name: 'tree/deep/x', data: 'x' },
    ]);
    const l2 = await layer([
      { name: 'etc/', mode: 0o700, mtime: T0 + 5 },
      { name: 'etc/a', data: 'a2' },
      { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
      { name: 'tree', data: 'now a file' },
    ]);
    const s = await applyLayers(root, streams(l1, l2));
    expect(s.layers).toBe(2);
    expect(s.entries).toBe(12);
    expect(await readFile(join(root, 'etc/a'), 'utf8')).toBe('a2');
    expect(await readFile(join(root, 'etc/b'), 'utf8')).toBe('b1');
    const etc = await lstat(join(root, 'etc'));
    expect(etc.mode & 0o7777).toBe(0o700);
    expect(Math.floor(etc.mtimeMs / 1000)).toBe(T0 + 5);
    expect(await readlink(join(root, 'bin/sh'))).toBe('busybox');
    expect((await lstat(join(root, 'tree'))).isFile()).toBe(true);
  });

  it('applies whiteouts and opaque directories to lower layers only, wherever the marker comes', async () => {
    const l1 = await layer([
      { name: 'a/', mode: 0o755 },
      { name: 'a/gone', data: 'x' },
      { name: 'a/kept', data: 'x' },
      { name: 'o1/', mode: 0o755 },
      { name: 'o1/lower', data: 'x' },
      { name: 'o1/sub/', mode: 0o755 },
      { name: 'o1/sub/lower', data: 'x' },
      { name: 'o2/', mode: 0o755 },
      { name: 'o2/lower', data: 'x' },
      { name: 'o2/sub/', mode: 0o755 },
      { name: 'o2/sub/lower', data: 'x' },
      { name: 'whole/', mode: 0o755 },
      { name: 'whole/x', data: 'x' },
    ]);
    const l2 = await layer([
      { name: 'a/.wh.gone', data: '' },
      { name: 'a/.wh.never-there', data: '' },
      // hoist's order: the marker right after its directory.
      { name: 'o1/', mode: 0o755 },
      { name: 'o1/.wh..wh..opq', data: '' },
      { name: 'o1/new', data: 'new' },
      // Docker's order: the marker sorted among the directory's entries, after some of them.
      { name: 'o2/', mode: 0o755 },
      { name: 'o2/a-new', data: 'new' },
      { name: 'o2/sub/', mode: 0o755 },
      { name: 'o2/sub/new', data: 'new' },
      { name: 'o2/.wh..wh..opq', data: '' },
      // A whiteout of a path this layer wrote does not delete it.
      { name: 'same', data: 'mine' },
      { name: '.wh.same', data: '' },
      { name: '.wh.whole', data: '' },
    ]);
    await applyLayers(root, streams(l1, l2));
    const t = await tree(root);
    expect(Object.keys(t).sort()).toEqual(['a', 'a/kept', 'o1', 'o1/new', 'o2', 'o2/a-new', 'o2/sub', 'o2/sub/new', 'same'].sort());
  });

  it('links to files of lower layers, keeps setuid, sticky and mtimes, and makes FIFOs', async () => {
    const l1 = await layer([
      { name: 'bin/', mode: 0o755 },
      { name: 'bin/busybox', data: 'bb', mode: 0o4755 },
      { name: 'tmp/', mode: 0o1777 },
      { name: 'run/', mode: 0o755 },
      { name: 'run/fifo', type: 'fifo', mode: 0o620 },
    ]);
    const l2 = await layer([
      { name: 'usr/', mode: 0o755 },
      { name: 'usr/bin/', mode: 0o755 },
      { name: 'usr/bin/su', type: 'link', linkname: 'bin/busybox', mode: 0o4755 },
      { name: 'old', data: 'old', mtime: 1 },
    ]);
    await applyLayers(root, [Readable.from([gzipSync(l1)]), Readable.from([l2])]);
    const bb = await lstat(join(root, 'bin/busybox'));
    const su = await lstat(join(root, 'usr/bin/su'));
    expect(su.ino).toBe(bb.ino);
    expect(bb.nlink).toBe(2);
    expect(bb.mode & 0o7777).toBe(0o4755);
    expect((await lstat(join(root, 'tmp'))).mode & 0o7777).toBe(0o1777);
    const fifo = await lstat(join(root, 'run/fifo'));
    expect(fifo.isFIFO()).toBe(true);
    expect(fifo.mode & 0o7777).toBe(0o620);
    expect(Math.floor((await lstat(join(root, 'old'))).mtimeMs / 1000)).toBe(1);
    expect(Math.floor(bb.mtimeMs / 1000)).toBe(T0);
  });

  it('keeps the mtime of a directory a layer changes without naming it', async () => {
    const l1 = await layer([
      { name: 'bin/', mode: 0o755, mtime: T0 + 7 },
      { name: 'bin/busybox', data: 'bb' },
      { name: 'bin/old', data: 'old' },
      { name: 'etc/', mode: 0o755, mtime: T0 + 9 },
    ]);
    // bin/ and etc/ are not in the second layer: a hard link and a whiteout land in bin/, a missing parent in etc/.
    const l2 = await layer([
      { name: 'bin/sh.hard', type: 'link', linkname: 'bin/busybox' },
      { name: 'bin/.wh.old' },
      { name: 'etc/new/file', data: 'x' },
    ]);
    await applyLayers(root, streams(l1, l2));
    expect((await lstat(join(root, 'bin/sh.hard'))).nlink).toBe(2);
    await expect(lstat(join(root, 'bin/old'))).rejects.toThrow(/ENOENT/);
    expect((await lstat(join(root, 'bin'))).mtimeMs).toBe((T0 + 7) * 1000);
    expect((await lstat(join(root, 'etc'))).mtimeMs).toBe((T0 + 9) * 1000);
  });

  it('reads blob files, gzip-compressed or not', async () => {
    const tar = await layer([{ name: 'f', data: 'plain' }]);
    const gz = gzipSync(await layer([{ name: 'g', data: 'zipped' }]));
    await writeFile(join(base, 'l1.tar'), tar);
    await writeFile(join(base, 'l2.tar.gz'), gz);
    outsideBefore = await tree(base, root);
    await applyLayers(root, [join(base, 'l1.tar'), async () => Readable.from([gz])]);
    expect(await readFile(join(root, 'f'), 'utf8')).toBe('plain');
    expect(await readFile(join(root, 'g'), 'utf8')).toBe('zipped');
  });

  it('reads zstd layers', async () => {
    await ensureDebianPackages(['zstd']);
    const tar = join(base, 'z.tar');
    await writeFile(tar, await layer([{ name: 'z', data: 'zstd' }]));
    await execFileAsync('zstd', ['-q', tar, '-o', `${tar}.zst`]);
    outsideBefore = await tree(base, root);
    await applyLayers(root, [`${tar}.zst`]);
    expect(await readFile(join(root, 'z'), 'utf8')).toBe('zstd');
    const corrupt = join(base, 'bad.zst');
    await writeFile(corrupt, Buffer.concat([(await readFile(`${tar}.zst`)).subarray(0, 20), Buffer.alloc(100, 7)]));
    outsideBefore = await tree(base, root);
    expect(await codeOf(applyLayers(root, [corrupt]))).toBe('BAD_LAYER');
  });

  it('sets owners when privileged, and records them for the layer writer when not', async () => {
    const l = await layer([
      { name: 'home/', mode: 0o755 },
      { name: 'home/app/', mode: 0o750, uid: 1000, gid: 1000 },
      { name: 'home/app/f', data: 'x', uid: 1000, gid: 100 },
      { name: 'etc/', mode: 0o755 },
      { name: 'etc/shadow', data: 's', mode: 0o640, gid: 42 },
      { name: 'gone', data: 'x', uid: 7, gid: 7 },
    ]);
    const l2 = await layer([{ name: '.wh.gone', data: '' }]);
    const unprivileged = await applyLayers(root, streams(l, l2), { privileged: false });
    expect(unprivileged.ownersApplied).toBe(false);
    expect(Object.fromEntries(unprivileged.intendedOwners)).toEqual({
      'home/app': { uid: 1000, gid: 1000 },
      'home/app/f': { uid: 1000, gid: 100 },
      'etc/shadow': { uid: 0, gid: 42 },
    });
    const me = process.getuid?.() ?? 0;
    expect((await lstat(join(root, 'home/app/f'))).uid).toBe(me);

    if (asRoot) {
      const root2 = join(base, 'root2');
      await mkdir(root2);
      const privileged = await applyLayers(root2, streams(l, l2));
      await removeRootfs(root2);
      expect(privileged.ownersApplied).toBe(true);
      expect(privileged.intendedOwners.size).toBe(0);
    }
  });

  it('unprivileged, returns the attributes it could not set for the files that still have them, after every layer', async () => {
    const cap = Buffer.from('0100000200200000000000000000000000000000', 'hex');
    const first = await layer([
      { name: 'bin/', mode: 0o755 },
      { name: 'bin/ping', data: 'p', mode: 0o755, xattrs: { 'security.capability': cap, 'user.a': 'x' } },
      { name: 'bin/kept', data: 'k', mode: 0o755, xattrs: { 'security.capability': cap } },
      { name: 'bin/gone', data: 'g', mode: 0o755, xattrs: { 'security.capability': cap } },
      { name: 'bin/back', data: 'b', mode: 0o755, xattrs: { 'security.capability': cap } },
    ]);
    // The next layer replaces ping without a capability, removes gone, and removes back and adds it again without one.
    const second = await layer([
      { name: 'bin/', mode: 0o755 },
      { name: 'bin/.wh.back', data: '' },
      { name: 'bin/.wh.gone', data: '' },
      { name: 'bin/back', data: 'b2', mode: 0o755 },
      { name: 'bin/ping', data: 'p2', mode: 0o755 },
    ]);
    const summary = await applyLayers(root, streams(first, second), { privileged: false });
    expect([...summary.unsetXattrs.keys()]).toEqual(['bin/kept']);
    expect(summary.unsetXattrs.get('bin/kept')?.['security.capability']?.equals(cap)).toBe(true);
  });

  it('makes device nodes when privileged and skips them with a note otherwise; unprivileged, sets only user.* xattrs', async () => {
    const cap = Buffer.from('0100000200200000000000000000000000000000', 'hex'); // VFS_CAP v2, effective, cap_net_raw permitted
    const l = await layer([
      { name: 'dev/', mode: 0o755 },
      { name: 'dev/null', type: 'char-device', mode: 0o666, devmajor: 1, devminor: 3 },
      { name: 'dev/loop9', type: 'block-device', mode: 0o660, gid: 6, devmajor: 7, devminor: 9, xattrs: { 'user.dev': 'x' } },
      { name: 'bin/', mode: 0o755, xattrs: { 'user.dir': 'd' } },
      { name: 'bin/ping', data: 'p', mode: 0o4755, xattrs: { 'security.capability': cap, 'user.a': 'test', 'user.overlay.opaque': 'y' } },
    ]);
    const skipped = await applyLayers(root, streams(l), { privileged: false });
    expect(skipped.skippedDevices).toBe(2);
    expect(skipped.notes.map((n) => [n.path, n.reason])).toEqual([
      ['dev/null', 'device'],
      ['dev/loop9', 'device'],
      ['bin/ping', 'xattrs'],
    ]);
    expect(skipped.notes[2]?.detail).toContain('security.capability');
    expect(skipped.skippedXattrs).toBe(1);
    expect(await readdir(join(root, 'dev'))).toEqual([]);
    expect(await getfattr(join(root, 'bin/ping'))).toEqual({ 'user.a': '0x74657374' });
    expect(await getfattr(join(root, 'bin'))).toEqual({ 'user.dir': '0x64' });

    if (asRoot) {
      const root3 = join(base, 'root3');
      await mkdir(root3);
      const made = await applyLayers(root3, streams(l), { privileged: true });
      const ping = join(root3, 'bin/ping');
      const got = await getfattr(ping);
      const mode = (await lstat(ping)).mode & 0o7777;
      await removeRootfs(root3);
      // Linux keeps user.* off device nodes: refused, so noted, not a failure.
      const xattrNotes = made.notes.filter((n) => n.reason === 'xattrs').map((n) => n.path);
      expect(xattrNotes).toEqual(made.skippedDevices === 0 ? ['dev/loop9'] : []);
      // After the chown, which would have cleared the capability; the mode keeps setuid.
      expect(got).toEqual({ 'security.capability': `0x${cap.toString('hex')}`, 'user.a': '0x74657374' });
      expect(mode).toBe(0o4755);
    }

    if (asRoot) {
      const root2 = join(base, 'root2');
      await mkdir(root2);
      const made = await applyLayers(root2, streams(l));
      const st = await lstat(join(root2, 'dev/null'));
      const blk = await lstat(join(root2, 'dev/loop9'));
      await removeRootfs(root2);
      // A container without CAP_MKNOD refuses: then the device is skipped, never a failure.
      if (made.skippedDevices === 0) {
        expect(st.isCharacterDevice()).toBe(true);
        expect(st.rdev).toBe(0x103);
        expect(blk.isBlockDevice()).toBe(true);
        expect([blk.mode & 0o7777, blk.gid]).toEqual([0o660, 6]);
      } else {
        expect(made.notes.some((n) => n.reason === 'device')).toBe(true);
      }
    }
  });

  it('creates missing parents and refuses a parent that is a file', async () => {
    const l = await layer([{ name: 'a/b/c/file', data: 'x' }]);
    await applyLayers(root, streams(l));
    expect((await lstat(join(root, 'a/b/c'))).mode & 0o7777).toBe(0o755);
    const bad = await layer([{ name: 'a/b/c/file/under', data: 'x' }]);
    expect(await codeOf(applyLayers(root, streams(bad)))).toBe('PARENT_NOT_DIRECTORY');
  });

  it('names the layer and entry in errors, and refuses a hard link to a missing file', async () => {
    const l = await layer([{ name: 'ln', type: 'link', linkname: 'missing' }]);
    await expect(applyLayers(root, streams(l))).rejects.toMatchObject({ code: 'INVALID_HARDLINK', message: expect.stringContaining('layer 1, entry "ln"') });
  });

  it('stops when the signal aborts', async () => {
    const ac = new AbortController();
    ac.abort(new Error('stop'));
    await expect(applyLayers(root, streams(await layer([{ name: 'f', data: 'x' }])), { signal: ac.signal })).rejects.toThrow('stop');
    expect(await readdir(root)).toEqual([]);
  });
});

describe('applyLayers: hostile layers write nothing outside the root', () => {
  it('refuses names that climb out with ..', async () => {
    for (const name of ['../outside/secret', 'a/../../outside/secret', '..']) {
      const l = await layer([{ name, data: 'pwned' }]);
      expect(await codeOf(applyLayers(root, streams(l)))).toBe('UNSAFE_PATH');
    }
  });

  it('takes absolute names inside the root', async () => {
    const l = await layer([{ name: `${outside}/secret`, data: 'pwned' }]);
    await applyLayers(root, streams(l));
    expect(await readFile(join(root, outside, 'secret'), 'utf8')).toBe('pwned');
  });

  it('resolves writes through a symlink of an earlier entry or a lower layer inside the root', async () => {
    const l1 = await layer([
      { name: 'abs', type: 'symlink', linkname: outside },
      { name: 'abs/secret', data: 'pwned' },
      { name: 'rel', type: 'symlink', linkname: '../../../../../../../..' },
      { name: `rel${outside}/dir/victim`, data: 'pwned' },
    ]);
    await applyLayers(root, streams(l1));
    expect(await readFile(join(root, outside, 'secret'), 'utf8')).toBe('pwned');
    expect(await readFile(join(root, outside, 'dir/victim'), 'utf8')).toBe('pwned');

    const root2 = join(base, 'root2');
    await mkdir(root2);
    const lower = await layer([{ name: 'etc', type: 'symlink', linkname: join(outside, 'dir') }]);
    const upper = await layer([
      { name: 'etc/victim', data: 'pwned' },
      { name: 'etc/.wh.victim', data: '' },
      { name: 'etc/.wh..wh..opq', data: '' },
    ]);
    await applyLayers(root2, streams(lower, upper));
    expect(await readlink(join(root2, 'etc'))).toBe(join(outside, 'dir'));
    expect(await readFile(join(root2, outside, 'dir/victim'), 'utf8')).toBe('pwned');
    await removeRootfs(root2);
  });

  it('replaces a symlink or a hard link at the final name instead of writing through it', async () => {
    // A symlink the rootfs already has, pointing outside (as a hostile lower layer would leave it).
    await symlink(join(outside, 'secret'), join(root, 'f'));
    const l1 = await layer([
      { name: 'f', data: 'replaced' },
      { name: 'orig', data: 'original' },
      { name: 'hl', type: 'link', linkname: 'orig' },
      { name: 'hl', data: 'through the link?' },
      { name: 'dirlink', type: 'symlink', linkname: join(outside, 'dir') },
      { name: 'dirlink', type: 'dir', mode: 0o700 },
    ]);
    await applyLayers(root, streams(l1));
    expect((await lstat(join(root, 'f'))).isFile()).toBe(true);
    expect(await readFile(join(root, 'orig'), 'utf8')).toBe('original');
    expect(await readFile(join(root, 'hl'), 'utf8')).toBe('through the link?');
    expect((await lstat(join(root, 'dirlink'))).isDirectory()).toBe(true);
  });

  it('refuses hard links whose target is outside, and resolves targets through symlinks inside the root', async () => {
    const out = await layer([{ name: 'hl', type: 'link', linkname: '../outside/secret' }]);
    expect(await codeOf(applyLayers(root, streams(out)))).toBe('UNSAFE_PATH');
    const viaLink = await layer([
      { name: 'o', type: 'symlink', linkname: outside },
      { name: 'hl', type: 'link', linkname: 'o/secret' },
    ]);
    expect(await codeOf(applyLayers(root, streams(viaLink)))).toBe('INVALID_HARDLINK');
    const absolute = await layer([{ name: 'hl2', type: 'link', linkname: join(outside, 'secret') }]);
    expect(await codeOf(applyLayers(root, streams(absolute)))).toBe('INVALID_HARDLINK');
    expect((await stat(join(outside, 'secret'))).nlink).toBe(1);
  });

  it('refuses whiteouts of . and .., and whiteouts through a symlink stay inside', async () => {
    await writeFile(join(root, 'keep'), 'x');
    for (const name of ['.wh..', '.wh...', 'sub/.wh..']) {
      expect(await codeOf(applyLayers(root, streams(await layer([{ name, data: '' }]))))).toBe('UNSAFE_PATH');
    }
    const l = await layer([
      { name: 'o', type: 'symlink', linkname: '/../../..' + outside },
      { name: 'o/.wh.secret', data: '' },
      { name: 'o/dir/.wh..wh..opq', data: '' },
    ]);
    await applyLayers(root, streams(l));
    expect(await readFile(join(root, 'keep'), 'utf8')).toBe('x');
  });

  it('reports a symlink loop in a parent', async () => {
    const l = await layer([
      { name: 'a', type: 'symlink', linkname: 'b' },
      { name: 'b', type: 'symlink', linkname: 'a' },
      { name: 'a/x', data: 'x' },
    ]);
    expect(await codeOf(applyLayers(root, streams(l)))).toBe('SYMLINK_LOOP');
  });

  it('stays linear on deep trees, and fails cleanly past the kernel path limit', async () => {
    // Walk order, 600 levels: one lookup per new directory, not one per level per entry.
    const depth = 600;
    const members: Member[] = [];
    let p = '';
    for (let i = 0; i < depth; i++) {
      p = p === '' ? 'd' : `${p}/d`;
      members.push({ name: `${p}/`, mode: 0o755 });
      members.push({ name: `${p}/f`, data: 'x' });
    }
    const s: ApplySummary = await applyLayers(root, streams(await layer(members)));
    expect(s.entries).toBe(2 * depth);
    expect(s.lookups).toBeLessThanOrEqual(3 * s.entries);

    // One file 20,000 directories down: the kernel refuses the path (PATH_MAX); hoist says so.
    const deep = `${Array.from({ length: 20_000 }, () => 'a').join('/')}/f`;
    const root2 = join(base, 'root2');
    await mkdir(root2);
    const err = await applyLayers(root2, streams(await layer([{ name: deep, data: 'x' }]))).catch((e: unknown) => e as { code?: string });
    expect(err).toMatchObject({ code: 'FS_NAME_TOO_LONG' });
    expect(await readdir(root2)).toEqual([]);
    // 20,000 components that resolve through symlinks: the resolver stops at its link limit.
    const loops = await layer([
      { name: 'l', type: 'symlink', linkname: '.' },
      { name: `${Array.from({ length: 20_000 }, () => 'l').join('/')}/f`, data: 'x' },
    ]);
    expect(await codeOf(applyLayers(root2, streams(loops)))).toBe('SYMLINK_LOOP');
    await removeRootfs(root2);
  });
});

describe('removeRootfs', () => {
  it('removes trees with directories of mode 000 and 0555', async () => {
    const dir = join(base, 'rfs');
    await mkdir(join(dir, 'W/work/inner'), { recursive: true });
    await mkdir(join(dir, 'ro/sub'), { recursive: true });
    await writeFile(join(dir, 'ro/sub/f'), 'x');
    await symlink(outside, join(dir, 'ro/out'));
    await chmod(join(dir, 'W/work/inner'), 0);
    await chmod(join(dir, 'W/work'), 0);
    await chmod(join(dir, 'ro/sub'), 0o555);
    await chmod(join(dir, 'ro'), 0o555);
    await removeRootfs(dir);
    await expect(lstat(dir)).rejects.toMatchObject({ code: 'ENOENT' });
    await removeRootfs(dir); // absent: nothing to do
  });
});
