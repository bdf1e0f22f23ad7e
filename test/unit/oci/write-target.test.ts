import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileSystemError } from '../../../src/fs-errors.js';
import { resolveWriteTarget } from '../../../src/oci/write-target.js';
import { tempDir } from '../../helpers/build.js';

describe('resolveWriteTarget', () => {
  it('replaces a regular file or a new path where it is', async () => {
    const dir = tempDir('hoist-wt-');
    writeFileSync(path.join(dir, 'f'), 'x');
    expect(await resolveWriteTarget(path.join(dir, 'f'))).toEqual({ kind: 'replace', path: path.join(dir, 'f') });
    expect(await resolveWriteTarget(path.join(dir, 'new'))).toEqual({ kind: 'replace', path: path.join(dir, 'new') });
  });

  it('follows a chain of relative links, through a linked directory, to the final target (existing or not)', async () => {
    const dir = tempDir('hoist-wt-');
    mkdirSync(path.join(dir, 'real'));
    symlinkSync('real', path.join(dir, 'linkdir'));
    writeFileSync(path.join(dir, 'real', 'target'), 'x');
    symlinkSync('target', path.join(dir, 'real', 'hop'));
    symlinkSync('linkdir/hop', path.join(dir, 'start'));
    expect(await resolveWriteTarget(path.join(dir, 'start'))).toEqual({ kind: 'replace', path: path.join(dir, 'real', 'target') });
    symlinkSync('../not-yet', path.join(dir, 'real', 'dangling'));
    expect(await resolveWriteTarget(path.join(dir, 'linkdir', 'dangling'))).toEqual({ kind: 'replace', path: path.join(dir, 'not-yet') });
  });

  it('writes into a FIFO, a device and procfs links (also reached through /dev/stdout)', async () => {
    const dir = tempDir('hoist-wt-');
    execFileSync('mkfifo', [path.join(dir, 'fifo')]);
    symlinkSync(path.join(dir, 'fifo'), path.join(dir, 'to-fifo'));
    expect(await resolveWriteTarget(path.join(dir, 'to-fifo'))).toEqual({ kind: 'into', path: path.join(dir, 'fifo') });
    expect(await resolveWriteTarget('/dev/null')).toEqual({ kind: 'into', path: '/dev/null' });
    expect((await resolveWriteTarget('/proc/self/fd/1')).kind).toBe('into');
    expect((await resolveWriteTarget('/dev/stdout')).kind).toBe('into');
  });

  it('reports a link loop as the user\'s error', async () => {
    const dir = tempDir('hoist-wt-');
    symlinkSync('b', path.join(dir, 'a'));
    symlinkSync('a', path.join(dir, 'b'));
    const err = await resolveWriteTarget(path.join(dir, 'a')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FileSystemError);
    expect((err as FileSystemError).code).toBe('FS_SYMLINK_LOOP');
    expect((err as FileSystemError).message).toContain(path.join(dir, 'a'));
  });
});
