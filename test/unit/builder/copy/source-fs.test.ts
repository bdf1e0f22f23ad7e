import { chmodSync, lstatSync, mkdirSync, realpathSync, symlinkSync, writeFileSync, type BigIntStats } from 'node:fs';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ContextFs, ViewFs, contextFollowPaths, type XattrRecords } from '../../../../src/builder/copy/source-fs.js';
import { FsView } from '../../../../snapshot/fs-view.js';
import { writeXattrsSync } from '../../../../snapshot/xattrs.js';
import { PatternMatcher } from '../../../../src/dockerfile/ignore/index.js';
import { HoistError } from '../../../../src/errors.js';
import { tempDir } from '../../../helpers/build.js';
import { readdirLog } from '../context/fs-emulation.js';

vi.mock('node:fs/promises', async (importOriginal) =>
  (await import('../context/fs-emulation.js')).emulateNonRootPermissions(await importOriginal()),
);

beforeEach(() => {
  readdirLog.length = 0;
});

/** The directories read so far, relative to `root`. */
const opened = (root: string): string[] => readdirLog.map((d) => path.relative(realpathSync(root), d) || '.');

function project(): string {
  const root = tempDir('hoist-srcfs-');
  for (const dir of ['node_modules/dep', 'src']) mkdirSync(path.join(root, dir), { recursive: true });
  writeFileSync(path.join(root, 'node_modules/dep/index.js'), 'dep');
  writeFileSync(path.join(root, 'src/main.ts'), 'main');
  writeFileSync(path.join(root, 'package.json'), '{}');
  return root;
}

describe('ContextFs', () => {
  const root = tempDir('hoist-srcfs-');
  mkdirSync(path.join(root, 'd'));
  for (const name of ['b', 'a', 'é', 'Z']) writeFileSync(path.join(root, 'd', name), name);
  symlinkSync('d/a', path.join(root, 'link'));
  const fs = new ContextFs(root, PatternMatcher.compile([]));

  it('lists a directory in byte order, and a missing path is undefined', async () => {
    expect(await fs.readdir('d')).toEqual(['Z', 'a', 'b', 'é']);
    expect(await fs.lstat('d/nope')).toBeUndefined();
    expect(await fs.lstat('d/a/below-a-file')).toBeUndefined();
    expect(await fs.readdir('d/a')).toEqual([]);
  });

  it('describes the root, files with their contents, and symlinks without following them', async () => {
    expect(await fs.lstat('')).toMatchObject({ kind: 'dir' });
    const file = await fs.lstat('d/é');
    expect(file).toMatchObject({ kind: 'file', size: 2 });
    expect(file?.kind === 'file' && (await text(file.open()))).toBe('é');
    expect(await fs.lstat('link')).toMatchObject({ kind: 'symlink', linkname: 'd/a' });
  });

  it('reads a small file whole in one call (the layer writer skips its stream); a large one only through its stream', async () => {
    const sized = tempDir('hoist-srcfs-');
    writeFileSync(path.join(sized, 'small'), Buffer.alloc(64 * 1024, 's'));
    writeFileSync(path.join(sized, 'large'), Buffer.alloc(64 * 1024 + 1, 'l'));
    const sizedFs = new ContextFs(sized, PatternMatcher.compile([]));
    const small = await sizedFs.lstat('small');
    expect(small?.kind === 'file' && small.readWhole?.().equals(Buffer.alloc(64 * 1024, 's'))).toBe(true);
    const large = await sizedFs.lstat('large');
    expect(large?.kind === 'file' && large.readWhole).toBeUndefined();
    expect(large?.kind === 'file' && (await text(large.open())).length).toBe(64 * 1024 + 1);
    // COPY --from a stage that copied them: the stage's files read the same ways.
    const entry = (rel: string, node: Awaited<ReturnType<ContextFs['lstat']>>) =>
      node?.kind === 'file' ? [{ kind: 'file' as const, path: rel, mode: node.mode, uid: 0, gid: 0, mtime: node.mtime, size: node.size, open: node.open, ...(node.readWhole ? { readWhole: node.readWhole } : {}) }] : [];
    const stage = new ViewFs(FsView.empty().withLayer([...entry('small', small), ...entry('large', large)]), 'stage "s"');
    const fromStage = await stage.lstat('small');
    expect(fromStage?.kind === 'file' && fromStage.readWhole?.().equals(Buffer.alloc(64 * 1024, 's'))).toBe(true);
    const largeFromStage = await stage.lstat('large');
    expect(largeFromStage?.kind === 'file' && largeFromStage.readWhole).toBeUndefined();
  });

  it('a directory the system refuses to read is CONTEXT_UNREADABLE (a user error the build can locate), not a raw system error', async () => {
    const locked = tempDir('hoist-srcfs-');
    mkdirSync(path.join(locked, 'secret'));
    writeFileSync(path.join(locked, 'secret/key'), 'k');
    chmodSync(path.join(locked, 'secret'), 0o000);
    try {
      const err = await new ContextFs(locked, PatternMatcher.compile([])).readdir('').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HoistError);
      expect((err as HoistError).code).toBe('CONTEXT_UNREADABLE');
      expect((err as HoistError).message).toContain('EACCES');
      // Excluded, or off the paths a COPY names, it is never opened.
      expect(await new ContextFs(locked, PatternMatcher.compile(['secret'])).readdir('')).toEqual([]);
      writeFileSync(path.join(locked, 'f'), '');
      expect(await new ContextFs(locked, PatternMatcher.compile([]), ['f']).readdir('')).toEqual(['f']);
    } finally {
      chmodSync(path.join(locked, 'secret'), 0o755);
    }
  });
});

describe('ContextFs reads the context as BuildKit sends it', () => {
  it('an excluded directory is not opened when no exception can reach below it', async () => {
    const root = project();
    const fs = new ContextFs(root, PatternMatcher.compile(['*', '!src']));
    expect(await fs.readdir('')).toEqual(['src']);
    expect(await fs.lstat('node_modules')).toBeUndefined();
    expect(opened(root)).toEqual(['.', 'src']);
  });

  it('an excluded directory that an exception reaches is there only as the holder of what comes back', async () => {
    const root = project();
    writeFileSync(path.join(root, 'node_modules/keep.md'), 'k');
    const fs = new ContextFs(root, PatternMatcher.compile(['node_modules', '!node_modules/keep.md']));
    expect(await fs.readdir('')).toEqual(['node_modules', 'package.json', 'src']);
    expect(await fs.readdir('node_modules')).toEqual(['keep.md']);
    expect(fs.isIgnored('node_modules')).toBe(true);
    expect(fs.mayReinclude).toBe(true);
  });

  it('with the paths a COPY names, only they (and the targets of links on them) are read', async () => {
    const root = project();
    symlinkSync('src', path.join(root, 'code'));
    const fs = new ContextFs(root, PatternMatcher.compile([]), contextFollowPaths(['/code/', 'package.json']));
    expect(await fs.readdir('')).toEqual(['code', 'package.json', 'src']);
    expect(await fs.readdir('src')).toEqual(['main.ts']);
    expect(opened(root)).toEqual(['.', 'src']);
  });

  it('follow paths are cleaned inside the context; the root, or a path that is no pattern, means everything', () => {
    expect(contextFollowPaths(['/a/./b/', '../c', 'd/*.txt'])).toEqual(['a/b', 'c', 'd/*.txt']);
    expect(contextFollowPaths(['a', '.'])).toBeNull();
    expect(contextFollowPaths(['a', '[x'])).toBeNull();
    expect(contextFollowPaths(['!a'])).toBeNull();
  });
});

describe('ContextFs and unix sockets', () => {
  const servers: Server[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  });

  it('a socket reads as an empty regular file with the socket permission bits, as BuildKit copies it', async () => {
    const root = tempDir('hoist-srcfs-');
    const socket = path.join(root, 'app.sock');
    const server = createServer();
    servers.push(server);
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(socket, resolve));
    chmodSync(socket, 0o750);
    const fs = new ContextFs(root, PatternMatcher.compile([]));
    expect(await fs.readdir('')).toEqual(['app.sock']);
    const node = await fs.lstat('app.sock');
    expect(node).toMatchObject({ kind: 'file', size: 0, mode: 0o750 });
    expect(node?.kind === 'file' && (await text(node.open()))).toBe('');
  });
});

describe('ContextFs and recorded xattrs', () => {
  /** Records that answer `xattrs` for one path at one stat, and note every question and what they are told. */
  function records(absPath: string, stat: BigIntStats, xattrs: Record<string, Buffer> | undefined): XattrRecords & { asked: string[]; told: Map<string, unknown> } {
    const asked: string[] = [];
    const told = new Map<string, unknown>();
    return {
      asked,
      told,
      recordXattrs(p, walked) {
        told.set(p, walked.xattrs);
      },
      recordedXattrs(p, st) {
        asked.push(p);
        const same = p === absPath && st.ino === stat.ino && st.ctimeNs === stat.ctimeNs && st.mtimeNs === stat.mtimeNs && st.size === stat.size && st.dev === stat.dev;
        return same ? { xattrs } : undefined;
      },
    };
  }

  it('a file\'s xattrs come from the records when they hold for its lstat (the disk is not read), else from the disk', async () => {
    const root = tempDir('hoist-srcfs-');
    mkdirSync(path.join(root, 'd'));
    writeFileSync(path.join(root, 'd/a'), 'a');
    writeFileSync(path.join(root, 'd/b'), 'b');
    expect(writeXattrsSync(path.join(root, 'd/a'), { 'user.note': 'on disk' })).toEqual([]);
    expect(writeXattrsSync(path.join(root, 'd/b'), { 'user.note': 'on disk' })).toEqual([]);
    const fs = new ContextFs(root, PatternMatcher.compile([]));
    const a = path.join(root, 'd/a');
    // What the records say differs from the disk, to tell which one answered.
    const known = records(a, lstatSync(a, { bigint: true }), { 'user.note': Buffer.from('recorded') });
    const found = await fs.lstatWalked('d/a', known);
    expect(found?.node).toMatchObject({ kind: 'file', xattrs: { 'user.note': Buffer.from('recorded') } });
    expect(found?.file?.absPath).toBe(a);
    expect(found?.file?.walked.stat.ino).toBe(lstatSync(a, { bigint: true }).ino);
    expect(found?.file?.walked.xattrs).toEqual({ 'user.note': Buffer.from('recorded') });
    // Asked once: the layer's lstat of the same file gets what the key got.
    expect(await fs.lstat('d/a')).toMatchObject({ xattrs: { 'user.note': Buffer.from('recorded') } });
    expect(known.asked).toEqual([a]);

    const b = await fs.lstatWalked('d/b', known);
    expect(b?.node).toMatchObject({ kind: 'file', xattrs: { 'user.note': Buffer.from('on disk') } });
    expect(b?.file?.walked.xattrs).toEqual({ 'user.note': Buffer.from('on disk') });
    // A file's xattrs are recorded with its digest, not by the walk.
    expect(known.told.size).toBe(0);
    expect(known.asked).toEqual([a, path.join(root, 'd/b')]);
  });

  it('a directory\'s or symlink\'s xattrs come from the records too; read from the disk, they are recorded', async () => {
    const root = tempDir('hoist-srcfs-');
    mkdirSync(path.join(root, 'd'));
    mkdirSync(path.join(root, 'e'));
    symlinkSync('d', path.join(root, 'l'));
    expect(writeXattrsSync(path.join(root, 'e'), { 'user.note': 'on disk' })).toEqual([]);
    const d = path.join(root, 'd');
    const known = records(d, lstatSync(d, { bigint: true }), { 'user.note': Buffer.from('recorded') });
    const fs = new ContextFs(root, PatternMatcher.compile([]));
    const dir = await fs.lstatWalked('d', known);
    expect(dir).toEqual({ node: expect.objectContaining({ kind: 'dir', xattrs: { 'user.note': Buffer.from('recorded') } }) });
    expect(await fs.lstat('e')).toMatchObject({ kind: 'dir', xattrs: { 'user.note': Buffer.from('on disk') } });
    expect(await fs.lstatWalked('e', known)).toMatchObject({ node: { xattrs: { 'user.note': Buffer.from('on disk') } } });
    expect(await fs.lstatWalked('l', known)).toMatchObject({ node: { kind: 'symlink' } });
    expect(await fs.lstatWalked('', known)).toMatchObject({ node: { kind: 'dir' } });
    // 'e' was read by the plain lstat first: read once, so never recorded by this walk.
    expect([...known.told]).toEqual([
      [path.join(root, 'l'), undefined],
      [realpathSync(root), undefined],
    ]);
  });

  it('asks and tells the records under the context\'s real path, whatever the context was called (a symlink, a relative path)', async () => {
    const root = tempDir('hoist-srcfs-');
    mkdirSync(path.join(root, 'd'));
    writeFileSync(path.join(root, 'd/a'), 'a');
    const link = path.join(tempDir('hoist-srcfs-link-'), 'ctx');
    symlinkSync(root, link);
    const real = realpathSync(root);
    for (const named of [link, path.relative(process.cwd(), link)]) {
      const known = records('', lstatSync(root, { bigint: true }), undefined);
      const fs = new ContextFs(named, PatternMatcher.compile([]));
      const found = await fs.lstatWalked('d/a', known);
      await fs.lstatWalked('d', known);
      expect(found?.file?.absPath).toBe(path.join(real, 'd/a'));
      expect(known.asked).toEqual([path.join(real, 'd/a'), path.join(real, 'd')]);
      expect([...known.told.keys()]).toEqual([path.join(real, 'd')]);
    }
  });

  it('the walk is dated before its first lstat, and its lstat is the file\'s, in nanoseconds', async () => {
    const root = tempDir('hoist-srcfs-');
    writeFileSync(path.join(root, 'f'), 'f');
    const start = BigInt(Date.now()) * 1_000_000n;
    const found = await new ContextFs(root, PatternMatcher.compile([])).lstatWalked('f');
    const stat = lstatSync(path.join(root, 'f'), { bigint: true });
    expect(found?.file?.walked.sinceNs).toBeGreaterThanOrEqual(start);
    expect(found?.file?.walked.sinceNs).toBeLessThanOrEqual(BigInt(Date.now()) * 1_000_000n);
    expect(found?.file?.walked.stat).toMatchObject({ ino: stat.ino, ctimeNs: stat.ctimeNs, mtimeNs: stat.mtimeNs, size: stat.size });
    expect(found?.node).toMatchObject({ kind: 'file', mtime: Math.floor(lstatSync(path.join(root, 'f')).mtimeMs / 1000) });
  });
});
