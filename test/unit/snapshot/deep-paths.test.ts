/**
 * The shortcuts that keep deep trees linear (issue 11) must not change
 * what a path means: a parent placed earlier is reused only while nothing
 * has been replaced, and a path is taken as normal only when it is.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ArchiveTree, type Member } from '../../../src/builder/add/archive-tree.js';
import { FsView } from '../../../snapshot/fs-view.js';
import type { LayerEntry } from '../../../snapshot/layer-entry.js';
import { isPlainPath, normalizeLayerPath } from '../../../snapshot/layer-path.js';
import { LayerSequencer } from '../../../snapshot/layer-sequence.js';
import { cleanPath } from '../../../snapshot/root-path.js';

const meta = { mode: 0o755, uid: 0, gid: 0, mtime: 0 };
const dir = (path: string): LayerEntry => ({ kind: 'dir', path, ...meta });
const file = (path: string): LayerEntry => ({ kind: 'file', path, ...meta, size: 0, open: () => Readable.from([]) });
const symlink = (path: string, linkname: string): LayerEntry => ({ kind: 'symlink', path, ...meta, linkname });

describe('isPlainPath', () => {
  it('is true only for paths normalizeLayerPath and cleanPath return unchanged', () => {
    const plain = ['a', 'a/b', 'a.b/c.', 'a/b./c..', 'd/'.repeat(50) + 'f'];
    const other = ['', '.', '..', '.a', 'a/.b', 'a/..b', 'a/./b', 'a/../b', '/a', 'a/', 'a//b', 'a\0b', './a'];
    for (const p of plain) {
      expect(isPlainPath(p), p).toBe(true);
      expect(normalizeLayerPath(p)).toBe(p);
      expect(cleanPath(p)).toEqual({ path: p, climbed: false });
    }
    for (const p of other) expect(isPlainPath(p), JSON.stringify(p)).toBe(false);
    // The slow path still decides what the others mean.
    expect(normalizeLayerPath('a/.b//c/')).toBe('a/.b/c');
    expect(cleanPath('x/../../y/')).toEqual({ path: 'y', climbed: true });
    expect(cleanPath('dir/sub/')).toEqual({ path: 'dir/sub', climbed: false });
  });
});

describe('FsView: a parent placed earlier in the layer', () => {
  it('is forgotten when the layer replaces a directory on its way by a symlink', () => {
    const view = FsView.empty().withLayer([dir('a'), dir('a/b'), dir('c'), symlink('a', 'c'), file('a/b/f')]);
    expect(view.lstat('a')?.kind).toBe('symlink');
    expect(view.lstat('c/b/f')?.kind).toBe('file');
    expect(view.lstat('a/b/f')).toBeUndefined();
  });

  it('after a whiteout, a member still resolves through what the view holds', () => {
    const lower = FsView.empty().withLayer([dir('x'), dir('x/y'), symlink('x/y/z', '/elsewhere'), dir('w'), dir('w/v'), symlink('w/v/u', '/there')]);
    // x/y is this layer's own (a whiteout hides lower layers only): its lower symlink stays and is followed.
    // w/v is only the lower layer's: the whiteout removes it, so w/v/u/f makes plain directories.
    const upper = lower.withLayer([dir('x/y'), { kind: 'whiteout', path: 'x/y' }, { kind: 'whiteout', path: 'w/v' }, file('x/y/z/f'), file('w/v/u/f')]);
    expect(upper.lstat('x/y/z')?.kind).toBe('symlink');
    expect(upper.lstat('elsewhere/f')?.kind).toBe('file');
    expect(upper.lstat('w/v/u')?.kind).toBe('dir');
    expect(upper.lstat('w/v/u/f')?.kind).toBe('file');
    expect(upper.lstat('there')).toBeUndefined();
  });
});

describe('ArchiveTree: a directory member placed earlier', () => {
  const m = (type: 'dir' | 'file'): Member =>
    type === 'dir' ? { type, ...meta } : { type, ...meta, size: 0, content: { open: () => Readable.from([]) } };

  it('is forgotten when a later member replaces it by a symlink', () => {
    const tree = new ArchiveTree('t.tar', 'g');
    tree.add('a/', m('dir'));
    tree.add('a/b/', m('dir'));
    tree.add('a', { type: 'symlink', ...meta, linkname: 'c' });
    tree.add('a/b/f', m('file'));
    const paths = tree.entries('').map((e) => `${e.kind}:${e.path}`);
    expect(paths).toContain('file:c/b/f');
    expect(paths).toContain('symlink:a');
    expect(paths).not.toContain('file:a/b/f');
  });
});

describe('LayerSequencer on a deep chain', () => {
  it('synthesises each missing parent once and refuses a member below a file', () => {
    const seq = new LayerSequencer();
    const out = ['a/b/c/f1', 'a/b/c/f2', 'a/b/d'].flatMap((n) => seq.accept(file(n)).map((p) => p.header.name));
    expect(out).toEqual(['a/', 'a/b/', 'a/b/c/', 'a/b/c/f1', 'a/b/c/f2', 'a/b/d']);
    expect(() => seq.accept(file('a/b/d/x'))).toThrow(/parent a\/b\/d is not a directory/);
  });
});
