import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { HoistError } from '../../../src/errors.js';
import { cleanContainerPath, FsView, MAX_SYMLINKS, type ViewNode } from '../../../snapshot/fs-view.js';
import type { DirEntry, FileEntry, HardlinkEntry, LayerEntry, SymlinkEntry } from '../../../snapshot/layer-entry.js';
import { codeOf } from '../../helpers/errors.js';

const T0 = 1_700_000_000;

function file(path: string, content: string | Buffer = '', extra: Partial<FileEntry> = {}): FileEntry {
  const data = typeof content === 'string' ? Buffer.from(content) : content;
  return { kind: 'file', path, mode: 0o644, uid: 0, gid: 0, mtime: T0, size: data.length, open: () => Readable.from([data]), ...extra };
}
function dir(path: string, extra: Partial<DirEntry> = {}): DirEntry {
  return { kind: 'dir', path, mode: 0o755, uid: 0, gid: 0, mtime: T0, ...extra };
}
function symlink(path: string, linkname: string, extra: Partial<SymlinkEntry> = {}): SymlinkEntry {
  return { kind: 'symlink', path, linkname, mode: 0o777, uid: 0, gid: 0, mtime: T0, ...extra };
}
function hardlink(path: string, target: string, extra: Partial<HardlinkEntry> = {}): HardlinkEntry {
  return { kind: 'hardlink', path, target, mode: 0o644, uid: 0, gid: 0, mtime: T0, ...extra };
}
const wh = (path: string): LayerEntry => ({ kind: 'whiteout', path });
const opq = (path: string): LayerEntry => ({ kind: 'opaque', path });

function view(...layers: LayerEntry[][]): FsView {
  let v = FsView.empty();
  for (const l of layers) v = v.withLayer(l);
  return v;
}

async function asyncCodeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return err instanceof HoistError ? err.code : `not a HoistError: ${String(err)}`;
  }
  return undefined;
}

/** Every path of the view with a short description, in walk order. */
function tree(v: FsView): string[] {
  return [...v.walk('/')].map(({ path, node }) => `${path || '/'}:${describeNode(node)}`);
}
function describeNode(n: ViewNode): string {
  switch (n.kind) {
    case 'symlink':
      return `->${n.linkname}`;
    case 'file':
      return `f${n.size}`;
    default:
      return n.kind;
  }
}

async function read(n: ViewNode | undefined): Promise<string> {
  if (n?.kind !== 'file') throw new Error(`not a file: ${n?.kind}`);
  const chunks: Buffer[] = [];
  for await (const c of n.open()) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

describe('cleanContainerPath', () => {
  it.each([
    ['/', ''],
    ['', ''],
    ['/a//b/./c/../d/', 'a/b/d'],
    ['/../..', ''],
    ['/../../etc/passwd', 'etc/passwd'],
    ['a/b', 'a/b'],
    ['/a/b/../../..', ''],
    ['/..a/b..', '..a/b..'],
  ])('%j -> %j', (input, want) => {
    expect(cleanContainerPath(input)).toBe(want);
  });
});

describe('FsView basics', () => {
  it('the empty view has a root dir 0755 0:0', () => {
    const v = FsView.empty();
    expect(v.lstat('')).toEqual({ kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0 });
    expect(v.lstat('/')).toEqual(v.lstat(''));
    expect(v.stat('/')).toEqual(v.lstat(''));
    expect(v.readdir('/')).toEqual([]);
    expect(v.layerCount).toBe(0);
    expect(tree(v)).toEqual(['/:dir']);
  });

  it('applies files, dirs, symlinks, devices and fifos; creates missing parents', () => {
    const v = view([
      file('a/b/c.txt', 'hello', { mode: 0o100640, uid: 5, gid: 6, mtime: T0 + 0.7 }),
      symlink('a/l', 'b/c.txt'),
      { kind: 'char-device', path: 'dev/null', mode: 0o666, uid: 0, gid: 0, mtime: T0, devmajor: 1, devminor: 3 },
      { kind: 'fifo', path: 'run/p', mode: 0o600, uid: 0, gid: 0, mtime: T0 },
      dir('empty', { mode: 0o1777, uid: 1, gid: 2, xattrs: { 'user.x': 'y' } }),
    ]);
    expect(tree(v)).toEqual([
      '/:dir',
      'a:dir',
      'a/b:dir',
      'a/b/c.txt:f5',
      'a/l:->b/c.txt',
      'dev:dir',
      'dev/null:char-device',
      'empty:dir',
      'run:dir',
      'run/p:fifo',
    ]);
    expect(v.lstat('/a/b/c.txt')).toMatchObject({ kind: 'file', mode: 0o640, uid: 5, gid: 6, mtime: T0, size: 5 });
    // Implicit parents: 0755, 0:0, epoch.
    expect(v.lstat('/a')).toEqual({ kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: 0 });
    expect(v.lstat('/dev/null')).toMatchObject({ devmajor: 1, devminor: 3 });
    expect(v.lstat('/empty')).toEqual({ kind: 'dir', mode: 0o1777, uid: 1, gid: 2, mtime: T0, xattrs: { 'user.x': 'y' } });
    expect(v.layerCount).toBe(1);
  });

  it('a root entry sets the root metadata', () => {
    const v = view([dir('./', { mode: 0o700, uid: 3, gid: 4 }), file('x')]);
    expect(v.lstat('/')).toMatchObject({ kind: 'dir', mode: 0o700, uid: 3, gid: 4 });
    expect(v.readdir('/')).toEqual(['x']);
  });

  it('refuses entry paths that leave the root, and non-dir roots', () => {
    expect(codeOf(() => view([file('../x')]))).toBe('UNSAFE_PATH');
    expect(codeOf(() => view([file('/etc/x')]))).toBe('UNSAFE_PATH');
    expect(codeOf(() => view([file('a/../../x')]))).toBe('UNSAFE_PATH');
    expect(codeOf(() => view([file('.')]))).toBe('INVALID_PATH');
    expect(codeOf(() => view([wh('')]))).toBe('INVALID_PATH');
  });

  it('a dir over a dir keeps its contents and takes the new metadata', () => {
    const v = view([dir('d', { mode: 0o700 }), file('d/x')], [dir('d', { mode: 0o750, uid: 9 })]);
    expect(v.lstat('/d')).toMatchObject({ mode: 0o750, uid: 9 });
    expect(v.readdir('/d')).toEqual(['x']);
  });

  it('a file replacing a dir removes the subtree; a dir replacing a file starts empty', () => {
    const v1 = view([dir('d'), file('d/x'), dir('d/sub'), file('d/sub/y'), file('f', 'abc')]);
    const v2 = v1.withLayer([file('d', 'now a file'), dir('f', { mode: 0o711 })]);
    expect(tree(v2)).toEqual(['/:dir', 'd:f10', 'f:dir']);
    expect(v2.lstat('/f')).toMatchObject({ kind: 'dir', mode: 0o711 });
    expect(v2.lstat('/d/x')).toBeUndefined();
    // A symlink replacing a dir too.
    const v3 = v1.withLayer([symlink('d', 'f')]);
    expect(tree(v3)).toEqual(['/:dir', 'd:->f', 'f:f3']);
  });

  it('an entry whose parent is a file is refused', () => {
    expect(codeOf(() => view([file('f'), file('f/x')]))).toBe('PARENT_NOT_DIRECTORY');
    expect(codeOf(() => view([file('f')], [dir('f/sub')]))).toBe('PARENT_NOT_DIRECTORY');
  });

  it('entry parents are resolved through symlinks inside the root', () => {
    const v = view([dir('usr/lib'), symlink('lib', 'usr/lib'), symlink('up', '../../..')], [file('lib/x', 'x'), file('up/lib/y', 'y')]);
    expect(v.lstat('/lib')).toMatchObject({ kind: 'symlink' });
    expect(v.readdir('/usr/lib')).toEqual(['x', 'y']);
    // A parent through a dangling symlink is created where the link points.
    const w = view([symlink('opt', '/srv/opt')], [file('opt/app/bin', 'b')]);
    expect(tree(w)).toEqual(['/:dir', 'opt:->/srv/opt', 'srv:dir', 'srv/opt:dir', 'srv/opt/app:dir', 'srv/opt/app/bin:f1']);
  });
});

describe('whiteouts and opaque dirs', () => {
  const base = (): FsView => view([dir('etc'), file('etc/a', 'a'), file('etc/b', 'b'), dir('etc/sub'), file('etc/sub/c', 'c'), file('top', 't')]);

  it('a whiteout deletes a file or a whole subtree from lower layers', () => {
    const v = base().withLayer([wh('etc/a'), wh('etc/sub')]);
    expect(tree(v)).toEqual(['/:dir', 'etc:dir', 'etc/b:f1', 'top:f1']);
  });

  it('a whiteout of something absent is a no-op', () => {
    const v = base().withLayer([wh('nope'), wh('etc/nope'), wh('top/x'), wh('missing/dir/x')]);
    expect(tree(v)).toEqual(tree(base()));
  });

  it('a whiteout does not delete what the same layer wrote, whatever the order', () => {
    const v1 = base().withLayer([file('etc/a', 'new'), wh('etc/a')]);
    const v2 = base().withLayer([wh('etc/a'), file('etc/a', 'new')]);
    expect(v1.lstat('/etc/a')).toMatchObject({ size: 3 });
    expect(v2.lstat('/etc/a')).toMatchObject({ size: 3 });
  });

  it('a whiteout of a lower dir the layer also writes into keeps only this layer\'s content', () => {
    const v = base().withLayer([file('etc/sub/new', 'n'), wh('etc/sub')]);
    expect(v.readdir('/etc/sub')).toEqual(['new']);
  });

  it('opaque hides the lower children and keeps the dir', () => {
    const v = base().withLayer([dir('etc', { mode: 0o700 }), opq('etc'), file('etc/z', 'z')]);
    expect(tree(v)).toEqual(['/:dir', 'etc:dir', 'etc/z:f1', 'top:f1']);
    expect(v.lstat('/etc')).toMatchObject({ mode: 0o700 });
  });

  it('opaque keeps what the same layer wrote even when the marker comes after it', () => {
    // `-x` sorts before `.wh..wh..opq` in byte order.
    const v = base().withLayer([dir('etc'), file('etc/-x', 'x'), file('etc/sub/new', 'n'), opq('etc')]);
    expect(tree(v)).toEqual(['/:dir', 'etc:dir', 'etc/-x:f1', 'etc/sub:dir', 'etc/sub/new:f1', 'top:f1']);
    // etc/sub came from below and was only a parent here: its lower content is hidden too.
    expect(v.lstat('/etc/sub/c')).toBeUndefined();
  });

  it('opaque on a missing path or a file is a no-op; on the root it clears lower layers', () => {
    expect(tree(base().withLayer([opq('nope'), opq('top')]))).toEqual(tree(base()));
    expect(tree(base().withLayer([opq(''), file('new', 'n')]))).toEqual(['/:dir', 'new:f1']);
  });

  it('whiteouts and opaque dirs across several layers', () => {
    const v = view(
      [dir('a'), file('a/1'), file('a/2'), dir('b'), file('b/1')],
      [wh('a/1'), opq('b'), file('b/2')],
      [file('a/1', 'again'), wh('b/2'), file('c')],
      [wh('a')],
    );
    expect(tree(v)).toEqual(['/:dir', 'b:dir', 'c:f0']);
  });
});

describe('hard links', () => {
  it('link to a file of a lower layer: shared content, common linkKey', async () => {
    const v1 = view([file('bin/busybox', 'BB', { mode: 0o755 })]);
    const v2 = v1.withLayer([hardlink('bin/sh', 'bin/busybox', { mode: 0o755 }), hardlink('bin/ls', '/bin/busybox', { mode: 0o755 })]);
    const bb = v2.lstat('/bin/busybox');
    const sh = v2.lstat('/bin/sh');
    const ls = v2.lstat('/bin/ls');
    expect(sh).toMatchObject({ kind: 'file', size: 2, mode: 0o755 });
    expect(await read(sh)).toBe('BB');
    expect(await read(ls)).toBe('BB');
    expect(bb?.kind === 'file' && bb.linkKey).toBeTruthy();
    expect(sh?.kind === 'file' && sh.linkKey).toBe(bb?.kind === 'file' && bb.linkKey);
    expect(ls?.kind === 'file' && ls.linkKey).toBe(bb?.kind === 'file' && bb.linkKey);
    // The earlier view's target is untouched.
    const old = v1.lstat('/bin/busybox');
    expect(old?.kind === 'file' && old.linkKey).toBeUndefined();
  });

  it('link to a file of the same layer, and to a file that has a key of its own', () => {
    const v = view([file('a', 'x', { linkKey: '1:2' }), hardlink('b', 'a'), file('c', 'y'), hardlink('d', 'c')]);
    const key = (p: string): string | undefined => {
      const n = v.lstat(p);
      return n?.kind === 'file' ? n.linkKey : undefined;
    };
    expect(key('/a')).toBeDefined();
    expect(key('/b')).toBe(key('/a'));
    expect(key('/d')).toBe(key('/c'));
    expect(key('/c')).not.toBe(key('/a'));
  });

  it("keeps a small file's readWhole (a read from disk, or content its entry held) on the file and on links to it", () => {
    const read = (): Buffer => Buffer.from('from disk');
    const held = Buffer.from('held');
    const v = view([file('r', 'from disk', { readWhole: read }), file('c', 'held', { readWhole: () => held }), file('s', 'streamed'), hardlink('rl', 'r'), hardlink('cl', 'c')]);
    const whole = (p: string): string | undefined => {
      const n = v.lstat(p);
      return n?.kind === 'file' ? n.readWhole?.().toString() : 'not a file';
    };
    expect([whole('/r'), whole('/c'), whole('/s'), whole('/rl'), whole('/cl')]).toEqual(['from disk', 'held', undefined, 'from disk', 'held']);
  });

  it('file linkKeys of different layers never collide', () => {
    const v = view([file('a', 'x', { linkKey: 'k' }), file('b', 'x', { linkKey: 'k' })], [file('c', 'y', { linkKey: 'k' })]);
    const key = (p: string): string | undefined => {
      const n = v.lstat(p);
      return n?.kind === 'file' ? n.linkKey : undefined;
    };
    expect(key('/a')).toBe(key('/b'));
    expect(key('/c')).not.toBe(key('/a'));
  });

  it('a link to a symlink copies the symlink', () => {
    const v = view([symlink('l', 'target'), hardlink('m', 'l')]);
    expect(v.lstat('/m')).toMatchObject({ kind: 'symlink', linkname: 'target' });
  });

  it('refuses a missing target or a directory target', () => {
    expect(codeOf(() => view([hardlink('b', 'a')]))).toBe('INVALID_HARDLINK');
    expect(codeOf(() => view([dir('d'), hardlink('b', 'd')]))).toBe('INVALID_HARDLINK');
    expect(codeOf(() => view([file('a')], [wh('a'), hardlink('b', 'a')]))).toBe('INVALID_HARDLINK');
  });
});

describe('resolve', () => {
  const v = view([
    dir('etc'),
    file('etc/passwd', 'root:x:0:0::/root:/bin/sh\n'),
    dir('usr/lib/x'),
    file('usr/lib/x/f', 'F'),
    symlink('lib', 'usr/lib'), // relative
    symlink('abs', '/usr/lib'), // absolute
    symlink('chain1', 'chain2'),
    symlink('chain2', '/chain3'),
    symlink('chain3', 'etc/passwd'),
    symlink('usr/lib/up', '../../../../../etc'), // clamped
    symlink('usr/lib/rootup', '/../../etc'),
    symlink('usr/lib/x/parent', '..'),
    symlink('dangling', '/nowhere/at/all'),
    symlink('loop1', 'loop2'),
    symlink('loop2', 'loop1'),
    symlink('self', 'self'),
    symlink('grow', 'grow/x'),
    symlink('empty', ''),
    symlink('etc/pw', 'passwd'),
  ]);

  it('returns canonical paths for plain paths, with . .. and // cleaned and clamped', () => {
    expect(v.resolve('/')).toEqual({ path: '', node: v.lstat('/') });
    expect(v.resolve('/../../etc/./passwd')).toMatchObject({ path: 'etc/passwd', node: { kind: 'file' } });
    expect(v.resolve('//usr///lib/x/')).toMatchObject({ path: 'usr/lib/x', node: { kind: 'dir' } });
    expect(v.resolve('etc/passwd').path).toBe('etc/passwd');
  });

  it('follows relative and absolute symlinks in intermediate components', () => {
    expect(v.resolve('/lib/x/f')).toMatchObject({ path: 'usr/lib/x/f', node: { kind: 'file', size: 1 } });
    expect(v.resolve('/abs/x/f').path).toBe('usr/lib/x/f');
  });

  it('followFinal false vs true', () => {
    expect(v.resolve('/lib')).toMatchObject({ path: 'lib', node: { kind: 'symlink' } });
    expect(v.resolve('/lib', { followFinal: true })).toMatchObject({ path: 'usr/lib', node: { kind: 'dir' } });
    expect(v.lstat('/lib')?.kind).toBe('symlink');
    expect(v.stat('/lib')?.kind).toBe('dir');
    // A trailing `.` is a component after the link: the link is followed.
    expect(v.resolve('/lib/.').path).toBe('usr/lib');
    expect(v.resolve('/etc/pw')).toMatchObject({ path: 'etc/pw', node: { kind: 'symlink' } });
    expect(v.resolve('/etc/pw', { followFinal: true }).path).toBe('etc/passwd');
  });

  it('follows chains', () => {
    expect(v.resolve('/chain1', { followFinal: true })).toMatchObject({ path: 'etc/passwd', node: { kind: 'file' } });
    expect(v.resolve('/chain1').path).toBe('chain1');
  });

  it('clamps .. in link targets at the root', () => {
    expect(v.resolve('/usr/lib/up/passwd')).toMatchObject({ path: 'etc/passwd', node: { kind: 'file' } });
    expect(v.resolve('/usr/lib/rootup', { followFinal: true })).toMatchObject({ path: 'etc', node: { kind: 'dir' } });
    expect(v.resolve('/lib/rootup/passwd').path).toBe('etc/passwd');
    expect(v.resolve('/lib/up/../../../..', { followFinal: true }).path).toBe('');
  });

  it('.. after a symlink is taken from where the link led (physical)', () => {
    expect(v.resolve('/lib/..').path).toBe('usr');
    expect(v.resolve('/usr/lib/x/parent/x/parent/x/f').path).toBe('usr/lib/x/f');
  });

  it('keeps missing components lexically', () => {
    expect(v.resolve('/missing/dir/file')).toEqual({ path: 'missing/dir/file', node: undefined });
    expect(v.resolve('/missing/../etc/passwd')).toMatchObject({ path: 'etc/passwd', node: { kind: 'file' } });
    expect(v.resolve('/lib/nope/more')).toEqual({ path: 'usr/lib/nope/more', node: undefined });
    expect(v.resolve('/dangling', { followFinal: true })).toEqual({ path: 'nowhere/at/all', node: undefined });
    expect(v.resolve('/dangling/deeper/../x')).toEqual({ path: 'nowhere/at/all/x', node: undefined });
    // Below a regular file nothing exists.
    expect(v.resolve('/etc/passwd/x')).toEqual({ path: 'etc/passwd/x', node: undefined });
  });

  it('an empty link target stays in the link\'s directory', () => {
    expect(v.resolve('/empty', { followFinal: true })).toMatchObject({ path: '', node: { kind: 'dir' } });
  });

  it('loops are SYMLINK_LOOP', () => {
    expect(codeOf(() => v.resolve('/loop1', { followFinal: true }))).toBe('SYMLINK_LOOP');
    expect(codeOf(() => v.resolve('/loop1/x'))).toBe('SYMLINK_LOOP');
    expect(codeOf(() => v.stat('/self'))).toBe('SYMLINK_LOOP');
    expect(codeOf(() => v.stat('/grow'))).toBe('SYMLINK_LOOP');
    // Not followed, not a loop.
    expect(v.resolve('/loop1').node?.kind).toBe('symlink');
  });

  it('follows up to MAX_SYMLINKS links and no more', () => {
    const chain = (n: number): LayerEntry[] => {
      const out: LayerEntry[] = [file('end', 'e')];
      for (let i = 0; i < n; i++) out.push(symlink(`l${i}`, i === n - 1 ? 'end' : `l${i + 1}`));
      return out;
    };
    expect(view(chain(MAX_SYMLINKS)).resolve('/l0', { followFinal: true }).path).toBe('end');
    expect(codeOf(() => view(chain(MAX_SYMLINKS + 1)).resolve('/l0', { followFinal: true }))).toBe('SYMLINK_LOOP');
  });

  it('lstat does not look through symlinked parents', () => {
    expect(v.lstat('/lib/x')).toBeUndefined();
    expect(v.stat('/lib/x')?.kind).toBe('dir');
    expect(v.lstat('/usr/lib/../lib/x')?.kind).toBe('dir');
  });

  it('refuses NUL bytes', () => {
    expect(codeOf(() => v.resolve('/etc\0/x'))).toBe('INVALID_PATH');
  });
});

describe('readFile', () => {
  const v = view([
    file('etc/passwd', 'root:x:0:0\n'),
    symlink('etc/link', '../etc/passwd'),
    symlink('alias', '/etc'),
    file('short', '', { size: 10 }),
    file('big', '', { size: 16 * 1024 * 1024 + 1 }),
  ]);

  it('reads a file, also through symlinks in any component', async () => {
    expect((await v.readFile('/etc/passwd')).toString()).toBe('root:x:0:0\n');
    expect((await v.readFile('/etc/link')).toString()).toBe('root:x:0:0\n');
    expect((await v.readFile('/alias/link')).toString()).toBe('root:x:0:0\n');
  });

  it('throws NOT_FOUND, NOT_A_FILE, FILE_TOO_LARGE, SIZE_MISMATCH', async () => {
    expect(await asyncCodeOf(v.readFile('/etc/group'))).toBe('NOT_FOUND');
    expect(await asyncCodeOf(v.readFile('/etc'))).toBe('NOT_A_FILE');
    expect(await asyncCodeOf(v.readFile('/big'))).toBe('FILE_TOO_LARGE');
    expect(await asyncCodeOf(v.readFile('/etc/passwd', { maxBytes: 4 }))).toBe('FILE_TOO_LARGE');
    expect(await asyncCodeOf(v.readFile('/short'))).toBe('SIZE_MISMATCH');
  });

  it('reads hard-linked content', async () => {
    const w = v.withLayer([hardlink('etc/passwd-', 'etc/passwd')]);
    expect((await w.readFile('/etc/passwd-')).toString()).toBe('root:x:0:0\n');
  });
});

describe('readdir and walk', () => {
  const v = view([
    file('a/b/c'),
    file('a-b'),
    file('a/B'),
    file('a/é'),
    file('a/z'),
    file('a/_'),
    symlink('la', 'a'),
    file('Z'),
  ]);

  it('readdir lists names in byte order, following symlinks', () => {
    expect(v.readdir('/')).toEqual(['Z', 'a', 'a-b', 'la']);
    expect(v.readdir('/a')).toEqual(['B', '_', 'b', 'z', 'é']);
    expect(v.readdir('/la')).toEqual(v.readdir('/a'));
    expect(codeOf(() => v.readdir('/nope'))).toBe('NOT_FOUND');
    expect(codeOf(() => v.readdir('/a-b'))).toBe('NOT_A_DIRECTORY');
  });

  it('walk is depth first in byte order, inclusive, from a canonical path', () => {
    expect([...v.walk('/')].map((e) => e.path)).toEqual(['', 'Z', 'a', 'a/B', 'a/_', 'a/b', 'a/b/c', 'a/z', 'a/é', 'a-b', 'la']);
    expect([...v.walk('/a/b')].map((e) => e.path)).toEqual(['a/b', 'a/b/c']);
    expect([...v.walk('a-b')].map((e) => e.path)).toEqual(['a-b']);
    // Symlinks are not followed by walk.
    expect([...v.walk('/la')].map((e) => `${e.path}:${e.node.kind}`)).toEqual(['la:symlink']);
    expect(codeOf(() => v.walk('/nope'))).toBe('NOT_FOUND');
    expect(codeOf(() => v.walk('/la/b'))).toBe('NOT_FOUND');
  });
});

describe('immutability', () => {
  it('earlier views are unchanged by later layers', () => {
    const v1 = view([dir('etc', { mode: 0o755 }), file('etc/a', 'a'), dir('etc/d'), file('etc/d/x'), file('keep')]);
    const before = tree(v1);
    const v2 = v1.withLayer([dir('etc', { mode: 0o700 }), opq('etc/d'), wh('etc/a'), file('etc/new'), file('keep', 'changed'), dir('./', { mode: 0o711 })]);
    const v3 = v1.withLayer([wh('etc')]);
    expect(tree(v1)).toEqual(before);
    expect(v1.lstat('/etc')).toMatchObject({ mode: 0o755 });
    expect(v1.lstat('/')).toMatchObject({ mode: 0o755 });
    expect(v1.lstat('/keep')).toMatchObject({ size: 0 });
    expect(tree(v2)).toEqual(['/:dir', 'etc:dir', 'etc/d:dir', 'etc/new:f0', 'keep:f7']);
    expect(v2.lstat('/')).toMatchObject({ mode: 0o711 });
    expect(tree(v3)).toEqual(['/:dir', 'keep:f0']);
    expect(v2.layerCount).toBe(2);
    expect(v3.layerCount).toBe(2);
  });

  it('nodes are frozen', () => {
    const v = view([file('a')]);
    const n = v.lstat('/a');
    expect(Object.isFrozen(n)).toBe(true);
    expect(Object.isFrozen(v.lstat('/'))).toBe(true);
  });

  it('a failed layer leaves the view usable and unchanged', () => {
    const v = view([file('f')]);
    expect(codeOf(() => v.withLayer([file('g'), file('f/x')]))).toBe('PARENT_NOT_DIRECTORY');
    expect(tree(v)).toEqual(['/:dir', 'f:f0']);
  });
});
