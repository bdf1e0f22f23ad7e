import { describe, expect, it } from 'vitest';
import type { LayerEntry } from '../../../snapshot/layer-entry.js';
import { sortLayerEntries } from '../../../snapshot/layer-plan.js';
import { LayerSequencer } from '../../../snapshot/layer-sequence.js';
import { T0, dir, file } from './fixtures.js';

function names(entries: LayerEntry[], clampMtime?: number): Array<[string, string, number]> {
  const seq = new LayerSequencer(clampMtime === undefined ? {} : { clampMtime });
  return entries.flatMap((e) => seq.accept(e)).map((p) => [p.header.name, p.header.type, p.header.mtime]);
}

describe('LayerSequencer', () => {
  it('synthesizes each missing parent once, at its place, with the clamp time', () => {
    expect(names([file('a/b/c', '1'), file('a/b/d', '2'), file('a/e/f', '3'), file('g', '4')], 100)).toEqual([
      ['a/', 'dir', 100],
      ['a/b/', 'dir', 100],
      ['a/b/c', 'file', 100],
      ['a/b/d', 'file', 100],
      ['a/e/', 'dir', 100],
      ['a/e/f', 'file', 100],
      ['g', 'file', 100],
    ]);
  });

  it('uses a listed directory instead of synthesizing it, and keeps mtimes at or before the clamp', () => {
    expect(names([dir('a', { mtime: 50 }), file('a/b', '1', { mtime: 100 }), file('a/c', '1', { mtime: 101 })], 100)).toEqual([
      ['a/', 'dir', 50],
      ['a/b', 'file', 100],
      ['a/c', 'file', 100],
    ]);
  });

  it('drops fractions of seconds', () => {
    expect(names([file('a', '1', { mtime: T0 + 0.999 })])).toEqual([['a', 'file', T0]]);
  });

  it('makes the first name of a linkKey group the file and the others links to it, xattrs on the file only', () => {
    const seq = new LayerSequencer();
    const out = [file('a', 'x', { linkKey: 'k', xattrs: { 'user.x': '1' } }), file('b', 'x', { linkKey: 'k', xattrs: { 'user.x': '1' } })].flatMap((e) =>
      seq.accept(e),
    );
    expect(out.map((p) => [p.header.type, p.header.linkname, p.header.xattrs, p.open === undefined])).toEqual([
      ['file', undefined, { 'user.x': '1' }, false],
      ['link', 'a', undefined, true],
    ]);
  });
});

describe('sortLayerEntries', () => {
  it('does not modify the caller’s entries', () => {
    const target = file('z', 'T');
    const link: LayerEntry = { kind: 'hardlink', path: 'a', target: 'z', mode: 0o644, uid: 0, gid: 0, mtime: T0 };
    const input = [target, link];
    const out = sortLayerEntries(input);
    expect(input).toEqual([target, link]);
    expect(target.linkKey).toBeUndefined();
    expect(out.map((e) => [e.path, e.kind, e.kind === 'file' ? e.linkKey : undefined])).toEqual([
      ['a', 'file', '\0z'],
      ['z', 'file', '\0z'],
    ]);
  });

  it('follows a chain of hard links out of the layer', () => {
    const l = (path: string, target: string): LayerEntry => ({ kind: 'hardlink', path, target, mode: 0, uid: 0, gid: 0, mtime: 0 });
    const out = sortLayerEntries([l('b', 'c'), l('a', 'b')]);
    expect(out).toEqual([expect.objectContaining({ path: 'a', target: 'c' }), expect.objectContaining({ path: 'b', target: 'c' })]);
  });
});
