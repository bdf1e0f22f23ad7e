import { describe, expect, it } from 'vitest';
import { fstabField, fstabText } from '../../../src/run/namespace-setup.js';

describe('fstabField', () => {
  it('keeps a plain path as it is', () => {
    expect(fstabField('/tmp/hoist-build-1/hoist-run-AbC_9/etc.hosts')).toBe('/tmp/hoist-build-1/hoist-run-AbC_9/etc.hosts');
  });

  it('escapes what would split or end a field as octal (space, tab, newline, #, backslash)', () => {
    expect(fstabField('/a b\tc\nd#e\\f')).toBe('/a\\040b\\011c\\012d\\043e\\134f');
  });

  it('escapes each byte of a non-ASCII name', () => {
    expect(fstabField('/é')).toBe('/\\303\\251');
  });
});

describe('fstabText', () => {
  it('makes one bind line per mount, in order, read-only where asked', () => {
    const text = fstabText([
      { source: '/dev/null', target: '/r/dev/null', readonly: false },
      { source: '/s/my hosts', target: '/r/etc/hosts', readonly: true },
    ]);
    expect(text).toBe('/dev/null /r/dev/null none bind 0 0\n/s/my\\040hosts /r/etc/hosts none bind,ro 0 0\n');
  });
});
