import { execFileSync } from 'node:child_process';
import { symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { capabilityForImage, carriedXattrs, isCarriedXattr, readXattrs, withKeptXattrs, writeXattrsSync } from '../../../snapshot/xattrs.js';
import { withTempDir } from './fixtures.js';

function getfattr(file: string): string {
  return execFileSync('getfattr', ['-h', '-d', '-e', 'hex', '-m', '-', '--absolute-names', file], { encoding: 'utf8' });
}

describe('xattrs on disk', () => {
  it('reads the carried attributes of a file, names sorted, values as bytes', async () => {
    await withTempDir(async (dir) => {
      const f = join(dir, 'f');
      await writeFile(f, 'x');
      execFileSync('setfattr', ['-n', 'user.b', '-v', 'two', f]);
      execFileSync('setfattr', ['-n', 'user.a', '-v', '0x00ff01', f]);
      execFileSync('setfattr', ['-n', 'user.overlay.opaque', '-v', 'y', f]);
      const got = await readXattrs(f);
      expect(Object.keys(got ?? {})).toEqual(['user.a', 'user.b']);
      expect(got?.['user.a']).toEqual(Buffer.from([0, 0xff, 1]));
      expect(got?.['user.b']?.toString()).toBe('two');
    });
  });

  it('gives undefined for a file without attributes, and reads a symlink itself, not its target', async () => {
    await withTempDir(async (dir) => {
      const f = join(dir, 'f');
      await writeFile(f, 'x');
      expect(await readXattrs(f)).toBeUndefined();
      execFileSync('setfattr', ['-n', 'user.a', '-v', 'on-target', f]);
      await symlink('f', join(dir, 'l'));
      expect(await readXattrs(join(dir, 'l'))).toBeUndefined();
    });
  });

  it('throws ENOENT for a missing path', async () => {
    await withTempDir(async (dir) => {
      await expect(readXattrs(join(dir, 'nope'))).rejects.toMatchObject({ code: 'ENOENT' });
    });
  });

  it('writes carried attributes, skips the rest, and returns what the filesystem refuses', async () => {
    await withTempDir(async (dir) => {
      const f = join(dir, 'f');
      await writeFile(f, 'x');
      const notSet = writeXattrsSync(f, { 'user.a': 'test', 'user.bin': new Uint8Array([1, 2]), 'user.overlay.opaque': 'y', 'system.posix_acl_access': 'z' });
      expect(notSet).toEqual([]);
      const dump = getfattr(f);
      expect(dump).toContain('user.a=0x74657374');
      expect(dump).toContain('user.bin=0x0102');
      expect(dump).not.toContain('overlay');
      expect(dump).not.toContain('posix_acl');

      await symlink('f', join(dir, 'l'));
      const refused = writeXattrsSync(join(dir, 'l'), { 'user.b': 'v' });
      expect(refused.map((r) => r.name)).toEqual(['user.b']);
      expect(getfattr(f)).not.toMatch(/^user\.b=/m);
    });
  });

  it('carries capabilities, IMA, user and trusted names but no overlay, ACL or SELinux ones', () => {
    for (const n of ['security.capability', 'security.ima', 'user.a', 'trusted.x']) expect(isCarriedXattr(n)).toBe(true);
    for (const n of ['user.overlay.opaque', 'trusted.overlay.redirect', 'system.posix_acl_access', 'security.selinux']) expect(isCarriedXattr(n)).toBe(false);
    expect(carriedXattrs({ 'user.b': 1, 'security.selinux': 2, 'user.a': 3 })).toEqual({ 'user.a': 3, 'user.b': 1 });
    expect(carriedXattrs({ 'security.selinux': 2 })).toBeUndefined();
  });
});

describe('capabilityForImage: a file capability as an image carries it', () => {
  // cap_net_raw+ep: revision 2 (20 bytes), and revision 3 as a user namespace rooted at host uid 1001 stores it (rootid appended).
  const v2 = Buffer.from('0100000200200000000000000000000000000000', 'hex');
  const v3 = (rootid: number): Buffer => {
    const b = Buffer.alloc(24);
    v2.copy(b);
    b.writeUInt32LE(0x03000001, 0);
    b.writeUInt32LE(rootid, 20);
    return b;
  };
  const hoistIsRoot = (uid: number): boolean => uid === 1001;

  it('makes a revision 3 capability bound to the image root revision 2, flags and sets kept', () => {
    const out = capabilityForImage({ 'security.capability': v3(1001), 'user.note': Buffer.from('x') }, hoistIsRoot);
    expect(out?.['security.capability']?.toString('hex')).toBe(v2.toString('hex'));
    expect(out?.['user.note']?.toString()).toBe('x');
    const noEffective = v3(1001);
    noEffective.writeUInt32LE(0x03000000, 0);
    expect(capabilityForImage({ 'security.capability': noEffective }, hoistIsRoot)?.['security.capability']?.readUInt32LE(0)).toBe(0x02000000);
  });

  it('keeps what it cannot vouch for: another rootid, revision 2, a malformed value, no capability', () => {
    for (const value of [v3(5000), v2, Buffer.from('0100000300', 'hex')]) {
      expect(capabilityForImage({ 'security.capability': value }, hoistIsRoot)?.['security.capability']).toBe(value);
    }
    const none = { 'user.note': Buffer.from('x') };
    expect(capabilityForImage(none, hoistIsRoot)).toBe(none);
    expect(capabilityForImage(undefined, hoistIsRoot)).toBeUndefined();
  });
});

describe('withKeptXattrs: attributes the image has that the inode on disk lacks', () => {
  const cap = Buffer.from('0100000200200000000000000000000000000000', 'hex');
  const kept = { ino: 7n, size: 10n, mtimeNs: 1_700_000_000_999_999_999n, values: { 'security.capability': cap } };
  const same = { ino: 7n, size: 10n, mtimeNs: 1_700_000_000_999_999_999n };

  it('adds them to what the disk has, in name order, the disk winning on a name both have', () => {
    const out = withKeptXattrs({ 'user.a': Buffer.from('a') }, kept, same);
    expect(Object.keys(out ?? {})).toEqual(['security.capability', 'user.a']);
    expect(out?.['security.capability']).toBe(cap);
    expect(withKeptXattrs(undefined, kept, same)).toEqual({ 'security.capability': cap });
    const own = Buffer.from('own');
    expect(withKeptXattrs({ 'security.capability': own }, kept, same)?.['security.capability']).toBe(own);
  });

  it('drops them once the path is another inode, or the file was written (size or mtime moved)', () => {
    const disk = { 'user.a': Buffer.from('a') };
    // A nanosecond apart is another mtime (no rounding to milliseconds on either side).
    for (const st of [{ ...same, ino: 8n }, { ...same, size: 11n }, { ...same, mtimeNs: 1_700_000_001_000_000_000n }]) expect(withKeptXattrs(disk, kept, st)).toBe(disk);
    expect(withKeptXattrs(disk, undefined, same)).toBe(disk);
  });
});
