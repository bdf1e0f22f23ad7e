import { describe, expect, it } from 'vitest';
import { BLOCK, TarError, encodeHeader, encodePaxRecords, splitUstarName, type TarHeader } from '../../../src/tar/index.js';

const base: TarHeader = { name: 'f', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 1 };

function field(block: Buffer, offset: number, size: number): string {
  const raw = block.subarray(offset, offset + size);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul === -1 ? size : nul).toString('latin1');
}

function checksumOk(block: Buffer): boolean {
  const copy = Buffer.from(block);
  copy.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of copy) sum += b;
  return parseInt(field(block, 148, 8), 8) === sum;
}

describe('encodeHeader', () => {
  it('writes a single ustar block with empty uname/gname and NUL-terminated octal fields', () => {
    const h = encodeHeader({ ...base, name: 'usr/bin/x', mode: 0o104755, uid: 1000, gid: 100, size: 12345, mtime: 1_700_000_000 });
    expect(h.length).toBe(BLOCK);
    expect(field(h, 0, 100)).toBe('usr/bin/x');
    expect(field(h, 100, 8)).toBe('0004755'); // file-type bits dropped, setuid kept
    expect(field(h, 108, 8)).toBe('0001750');
    expect(field(h, 124, 12)).toBe((12345).toString(8).padStart(11, '0'));
    expect(field(h, 136, 12)).toBe((1_700_000_000).toString(8).padStart(11, '0'));
    expect(h.subarray(257, 265).toString('latin1')).toBe('ustar\u000000');
    expect(field(h, 265, 32)).toBe('');
    expect(field(h, 297, 32)).toBe('');
    expect(checksumOk(h)).toBe(true);
  });

  it('splits a long ASCII path into prefix and name', () => {
    const name = `${'d'.repeat(120)}/${'f'.repeat(90)}`;
    const h = encodeHeader({ ...base, name });
    expect(h.length).toBe(BLOCK);
    expect(field(h, 345, 155)).toBe('d'.repeat(120));
    expect(field(h, 0, 100)).toBe('f'.repeat(90));
  });

  it('uses PAX for paths that cannot be split, non-ASCII paths, large ids, long links and xattrs', () => {
    const cases: Array<[Partial<TarHeader>, string]> = [
      [{ name: 'x'.repeat(101) }, 'path='],
      [{ name: `${'d'.repeat(200)}/f` }, 'path='],
      [{ name: 'café' }, 'path=café'],
      [{ uid: 10_000_000 }, 'uid=10000000'],
      [{ gid: 0o10000000 }, `gid=${0o10000000}`],
      [{ type: 'symlink', linkname: 't'.repeat(101) }, 'linkpath='],
      [{ mtime: -1 }, 'mtime=-1'],
      [{ xattrs: { 'user.k': 'v' } }, 'SCHILY.xattr.user.k=v'],
    ];
    for (const [over, record] of cases) {
      const h = encodeHeader({ ...base, ...over });
      expect(h.length, record).toBeGreaterThan(BLOCK);
      expect(h[156], record).toBe('x'.charCodeAt(0));
      expect(checksumOk(h.subarray(0, BLOCK)), record).toBe(true);
      expect(checksumOk(h.subarray(h.length - BLOCK)), record).toBe(true);
      expect(h.subarray(BLOCK, h.length - BLOCK).toString('utf8'), record).toContain(record);
    }
  });

  it('keeps a field that fits out of PAX (0o7777777 is the largest ustar id)', () => {
    expect(encodeHeader({ ...base, uid: 0o7777777 }).length).toBe(BLOCK);
    expect(encodeHeader({ ...base, uid: 0o7777777 + 1 }).length).toBeGreaterThan(BLOCK);
  });

  it('refuses negative or fractional ids and oversized device numbers', () => {
    for (const over of [{ uid: -1 }, { gid: 1.5 }, { devmajor: 0o10000000 }, { mtime: 0.5 }]) {
      expect(() => encodeHeader({ ...base, ...over })).toThrow(TarError);
      expect(() => encodeHeader({ ...base, ...over })).toThrow(expect.objectContaining({ kind: 'field-range' }));
    }
  });

  it('is deterministic', () => {
    const h: TarHeader = { ...base, name: 'é/'.repeat(80), type: 'dir', xattrs: { 'user.b': '2', 'user.a': Buffer.from([0, 1, 2]) } };
    expect(encodeHeader(h).equals(encodeHeader({ ...h }))).toBe(true);
  });
});

describe('splitUstarName', () => {
  it('never splits at the trailing slash of a directory', () => {
    const name = `${'a'.repeat(101)}/`;
    expect(splitUstarName(name)).toBeNull();
    const nested = `${'p'.repeat(50)}/${'a'.repeat(60)}/`;
    expect(splitUstarName(nested)).toEqual({ prefix: 'p'.repeat(50), name: `${'a'.repeat(60)}/` });
  });

  it('prefers the longest prefix that fits', () => {
    const name = `${'a'.repeat(60)}/${'b'.repeat(60)}/${'c'.repeat(60)}`;
    expect(splitUstarName(name)).toEqual({ prefix: `${'a'.repeat(60)}/${'b'.repeat(60)}`, name: 'c'.repeat(60) });
  });
});

describe('encodePaxRecords', () => {
  it('counts the length digits themselves, across a digit boundary', () => {
    for (let n = 80; n < 110; n++) {
      const rec = encodePaxRecords([['path', 'x'.repeat(n)]]);
      const len = parseInt(rec.toString('latin1').split(' ')[0] ?? '', 10);
      expect(len).toBe(rec.length);
    }
  });

  it('keeps binary values as bytes', () => {
    const rec = encodePaxRecords([['SCHILY.xattr.security.capability', Buffer.from([0, 0xff, 0x0a])]]);
    expect(rec.subarray(rec.indexOf('=') + 1)).toEqual(Buffer.from([0, 0xff, 0x0a, 0x0a]));
  });
});
