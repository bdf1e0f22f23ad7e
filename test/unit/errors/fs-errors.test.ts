import { mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { HoistError } from '../../../src/errors.js';
import { checkWritableDirectory, ensureDirectory, FileSystemError, fsError } from '../../../src/fs-errors.js';
import { fileHandleSink } from '../../../src/oci/atomic-file.js';
import { tempDir } from '../../helpers/build.js';

async function failure(p: Promise<unknown>): Promise<FileSystemError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FileSystemError);
  return err as FileSystemError;
}

describe('fsError', () => {
  it('turns a real ENOSPC from a write into the user error with the path and a hint', async () => {
    const handle = await open('/dev/full', 'w');
    try {
      const sink = fileHandleSink(handle, { file: '/dev/full', action: 'write the archive' });
      const err = await failure(pipeline(Readable.from([Buffer.alloc(1 << 16)]), sink));
      expect(err.code).toBe('FS_NO_SPACE');
      expect(err.errno).toBe('ENOSPC');
      expect(err.message).toBe('cannot write the archive /dev/full: no space left on the device (ENOSPC)');
      expect(err.hint).toContain('free space');
    } finally {
      await handle.close();
    }
  });

  it('maps EPERM and EACCES from the file system, and leaves other errors alone', async () => {
    const sys = await open('/sys/hoist-cannot-be-here', 'wx').then(
      () => undefined,
      (e: unknown) => e,
    );
    const mapped = fsError(sys, '/sys/hoist-cannot-be-here', 'create');
    expect(mapped).toBeInstanceOf(FileSystemError);
    expect((mapped as FileSystemError).code).toMatch(/^FS_(PERMISSION_DENIED|READ_ONLY)$/);
    expect((mapped as FileSystemError).path).toBe('/sys/hoist-cannot-be-here');
    const bug = new TypeError('x is undefined');
    expect(fsError(bug, '/x', 'write')).toBe(bug);
    const already = new HoistError('SOMETHING', 'told already');
    expect(fsError(already, '/x', 'write')).toBe(already);
  });
});

describe('ensureDirectory', () => {
  it('creates missing parents', async () => {
    const root = tempDir('hoist-fs-');
    const dir = path.join(root, 'a', 'b', 'c');
    await ensureDirectory(dir, 'the test directory');
    expect(statSync(dir).isDirectory()).toBe(true);
    await ensureDirectory(dir, 'the test directory');
  });

  it('reports a procfs path at once instead of spinning', async () => {
    const started = Date.now();
    const err = await failure(ensureDirectory('/proc/hoist-nonexistent/cache', 'the cache directory'));
    expect(err.code).toBe('FS_CANNOT_CREATE');
    expect(err.message).toBe('cannot create the cache directory /proc/hoist-nonexistent/cache: /proc does not accept new directories');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('reports a file in the way and a dangling symbolic link', async () => {
    const root = tempDir('hoist-fs-');
    writeFileSync(path.join(root, 'file'), 'x');
    const inTheWay = await failure(ensureDirectory(path.join(root, 'file', 'sub'), 'the cache directory'));
    expect(inTheWay.code).toBe('FS_NOT_A_DIRECTORY');
    expect(inTheWay.message).toContain(`${path.join(root, 'file')} is not a directory`);

    symlinkSync(path.join(root, 'missing'), path.join(root, 'dangling'));
    const dangling = await failure(ensureDirectory(path.join(root, 'dangling', 'hoist'), 'the cache directory'));
    expect(dangling.code).toBe('FS_DANGLING_SYMLINK');
    expect(dangling.message).toContain(`is a symbolic link to ${path.join(root, 'missing')}, which does not exist`);
    expect(dangling.hint).toContain(`create ${path.join(root, 'missing')}`);
  });
});

describe('checkWritableDirectory', () => {
  it('accepts a writable directory and leaves nothing behind', async () => {
    const root = tempDir('hoist-fs-');
    mkdirSync(path.join(root, 'd'));
    await checkWritableDirectory(path.join(root, 'd'), 'the output');
    expect(statSync(path.join(root, 'd')).nlink).toBe(2);
  });

  it('names a missing directory and one that takes no files', async () => {
    const root = tempDir('hoist-fs-');
    const missing = await failure(checkWritableDirectory(path.join(root, 'nope'), '--output x'));
    expect(missing.code).toBe('FS_NOT_FOUND');
    expect(missing.hint).toContain(`mkdir -p ${path.join(root, 'nope')}`);
    const proc = await failure(checkWritableDirectory('/proc', '--output x'));
    expect(proc.code).toBe('FS_CANNOT_CREATE');
  });
});
