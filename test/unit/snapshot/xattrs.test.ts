import { execFileSync } from 'node:child_process';
import { symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { carriedXattrs, isCarriedXattr, readXattrs, writeXattrsSync } from '../../../snapshot/xattrs.js';
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
