import { describe, expect, it } from 'vitest';
import { cleanPath, MAX_SYMLINKS, resolveInRoot, resolveInRootAsync, type RootWalk } from '../../../snapshot/root-path.js';

/** A tree as a map of canonical paths: `null` a directory, a string a symlink target, a number a file. */
function walkOf(tree: Record<string, null | string | number>): RootWalk<string> {
  return {
    root: '',
    child: (parent, _name, path) => (parent === '' || tree[parent] === null ? (path in tree ? path : undefined) : undefined),
    linkname: (node) => {
      const v = tree[node];
      return typeof v === 'string' ? v : undefined;
    },
  };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

describe('cleanPath', () => {
  it.each([
    ['', '', false],
    ['/', '', false],
    ['.', '', false],
    ['./a//b/./c/', 'a/b/c', false],
    ['/a/b/../c', 'a/c', false],
    ['a/../../b', 'b', true],
    ['/../x', 'x', true],
    ['..', '', true],
    ['a/b/../..', '', false],
  ])('%j -> %j (climbed: %j)', (input, path, climbed) => {
    expect(cleanPath(input)).toEqual({ path, climbed });
  });
});

describe('resolveInRoot', () => {
  const tree = walkOf({
    usr: null,
    'usr/lib': null,
    'usr/lib/x': 1,
    lib: 'usr/lib',
    abs: '/usr/lib',
    up: '../../../usr',
    'usr/back': '..',
    file: 2,
    loop: 'loop',
    dangling: 'nowhere/deeper',
    var: null,
    'var/run': '/run',
  });

  it('follows symlinks in every component but the last, unless asked', () => {
    expect(resolveInRoot(tree, 'lib/x')).toMatchObject({ path: 'usr/lib/x', node: 'usr/lib/x' });
    expect(resolveInRoot(tree, '/lib')).toMatchObject({ path: 'lib', node: 'lib' });
    expect(resolveInRoot(tree, 'lib', { followFinal: true })).toMatchObject({ path: 'usr/lib', node: 'usr/lib' });
  });

  it('takes absolute targets and `..` inside the root (a chroot)', () => {
    expect(resolveInRoot(tree, 'abs/x').path).toBe('usr/lib/x');
    expect(resolveInRoot(tree, 'up/lib/x').path).toBe('usr/lib/x');
    expect(resolveInRoot(tree, '../../usr/back/usr/lib').path).toBe('usr/lib');
    expect(resolveInRoot(tree, 'var/run/act/f')).toEqual({ path: 'run/act/f', parts: ['run', 'act', 'f'], node: undefined });
  });

  it('keeps missing components as written, and `..` after them is lexical', () => {
    expect(resolveInRoot(tree, 'no/such/../x')).toMatchObject({ path: 'no/x', node: undefined });
    expect(resolveInRoot(tree, 'dangling/y', {}).path).toBe('nowhere/deeper/y');
    expect(resolveInRoot(tree, 'file/below')).toMatchObject({ path: 'file/below', node: undefined });
  });

  it('refuses escapes when the caller says so', () => {
    const onEscape = (why: string): Error => Object.assign(new Error(why), { code: `ESCAPE_${why}` });
    expect(codeOf(() => resolveInRoot(tree, 'abs/x', { onEscape }))).toBe('ESCAPE_absolute-link');
    expect(codeOf(() => resolveInRoot(tree, 'up', { onEscape, followFinal: true }))).toBe('ESCAPE_dotdot');
    expect(resolveInRoot(tree, 'lib/x', { onEscape }).path).toBe('usr/lib/x');
  });

  it(`stops after ${MAX_SYMLINKS} links`, () => {
    expect(codeOf(() => resolveInRoot(tree, 'loop/x'))).toBe('SYMLINK_LOOP');
    const custom = (): Error => Object.assign(new Error('loop'), { code: 'MINE' });
    expect(codeOf(() => resolveInRoot(tree, 'loop', { followFinal: true, onLoop: custom }))).toBe('MINE');
    expect(resolveInRoot(tree, 'loop').node).toBe('loop');
  });

  it('gives the same answers over an asynchronous tree', async () => {
    const sync = walkOf({ a: null, 'a/b': '/c', c: null, 'c/d': 1 });
    const async = { ...sync, child: async (p: string, n: string, path: string) => sync.child(p, n, path) };
    for (const p of ['a/b/d', 'a/b', 'x/../a/b/d', 'a/b/../c/d']) {
      expect(await resolveInRootAsync(async, p, { followFinal: true })).toEqual(resolveInRoot(sync, p, { followFinal: true }));
    }
  });
});
