import { describe, expect, it } from 'vitest';
import { ancestorsOf, compareLayerPaths, normalizeLayerPath, opaqueOrderKey, orderKey } from '../../../snapshot/layer-path.js';
import { codeOf } from '../../helpers/errors.js';

describe('normalizeLayerPath', () => {
  it.each([
    ['a/b', 'a/b'],
    ['./a/b', 'a/b'],
    ['a//b/', 'a/b'],
    ['./a/./b/.', 'a/b'],
    ['.wh.x', '.wh.x'],
    ['a/..b/c..', 'a/..b/c..'],
  ])('%s -> %s', (input, want) => {
    expect(normalizeLayerPath(input)).toBe(want);
  });

  it.each(['/etc/passwd', '/', '../x', 'a/../../x', 'a/..', '..', 'a\0b'])('refuses %j as UNSAFE_PATH', (input) => {
    expect(codeOf(() => normalizeLayerPath(input))).toBe('UNSAFE_PATH');
  });

  it.each(['', '.', './', '././'])('refuses the root %j as INVALID_PATH', (input) => {
    expect(codeOf(() => normalizeLayerPath(input))).toBe('INVALID_PATH');
  });
});

describe('order', () => {
  it('is component-wise byte order: a directory, then its contents, then its siblings', () => {
    const paths = ['a-b', 'a/b/c', 'b', 'a', 'A', 'a/b', 'a.txt', 'a/B', 'a/b-c', 'é', 'z'];
    const sorted = [...paths].sort(compareLayerPaths);
    expect(sorted).toEqual(['A', 'a', 'a/B', 'a/b', 'a/b/c', 'a/b-c', 'a-b', 'a.txt', 'b', 'z', 'é']);
  });

  it('compares UTF-8 bytes, not UTF-16 code units', () => {
    // U+FF5E is 0xEF 0xBD 0x9E in UTF-8; U+1F600 is 0xF0 ...: byte order puts U+FF5E first,
    // while UTF-16 order (0xFF5E vs surrogate 0xD83D) puts the emoji first.
    expect(['\u{1F600}', '\uFF5E'].sort(compareLayerPaths)).toEqual(['\uFF5E', '\u{1F600}']);
  });

  it('puts an opaque marker right after its directory, before all contents', () => {
    const dirKey = orderKey('a');
    const marker = opaqueOrderKey('a');
    expect(Buffer.compare(dirKey, marker)).toBeLessThan(0);
    for (const inside of ['a/ ', 'a/!', 'a/.wh.b', 'a/\u0001']) {
      expect(Buffer.compare(marker, orderKey(inside))).toBeLessThan(0);
    }
    expect(Buffer.compare(marker, orderKey('a-b'))).toBeLessThan(0);
  });

  it('ancestorsOf lists parents outermost first', () => {
    expect(ancestorsOf('a/b/c')).toEqual(['a', 'a/b']);
    expect(ancestorsOf('a')).toEqual([]);
  });
});
