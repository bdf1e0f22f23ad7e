/**
 * For vi.mock('node:fs/promises'): root ignores directory permissions, so when
 * the tests run as root a directory whose owner-read bit is clear is made to
 * fail readdir with EACCES, as it would for any other user. Every readdir is
 * also recorded, so tests can see which directories the walker opened.
 */
import type * as FsPromises from 'node:fs/promises';

export const runningAsRoot = process.getuid?.() === 0;

export const readdirLog: string[] = [];

export function emulateNonRootPermissions(actual: typeof FsPromises): typeof FsPromises {
  const readdir = async (dir: Parameters<typeof actual.readdir>[0], options?: unknown): Promise<unknown> => {
    const target = String(dir);
    readdirLog.push(target);
    if (runningAsRoot && ((await actual.stat(target)).mode & 0o400) === 0) {
      throw Object.assign(new Error(`EACCES: permission denied, scandir '${target}'`), {
        errno: -13,
        code: 'EACCES',
        syscall: 'scandir',
        path: target,
      });
    }
    return (actual.readdir as (d: unknown, o?: unknown) => Promise<unknown>)(dir, options);
  };
  return { ...actual, readdir: readdir as typeof actual.readdir };
}
