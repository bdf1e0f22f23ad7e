/**
 * File system failures as the user's errors: a Node system error (EACCES,
 * ENOSPC, EROFS, ...) plus the path and what hoist was doing becomes a
 * FileSystemError with a hint, instead of an internal fault. Also the one
 * safe way to create a directory: Node's `mkdir({ recursive: true })` spins
 * forever where the file system refuses a new directory without saying why
 * (procfs answers ENOENT), so parents are checked first and created one by one.
 *
 * Leaf module: imports only errors.ts.
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open, readlink, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { HoistError } from './errors.js';

export class FileSystemError extends HoistError {
  /** The path the operation was about. */
  readonly path: string;
  /** The errno code (`EACCES`, ...), when a system error caused this. */
  readonly errno: string | undefined;

  constructor(code: string, message: string, options: { path: string; errno?: string | undefined; hint?: string; cause?: unknown }) {
    super(code, message, { ...(options.hint === undefined ? {} : { hint: options.hint }), cause: options.cause });
    this.path = options.path;
    this.errno = options.errno;
  }
}

interface Mapping {
  code: string;
  problem: string;
  hint: (p: string) => string;
}

const MAPPINGS: Readonly<Record<string, Mapping>> = {
  EACCES: { code: 'FS_PERMISSION_DENIED', problem: 'permission denied', hint: (p) => `check the permissions of ${p} and its parent directories (hoist runs as uid ${process.getuid?.() ?? '?'}), or choose another path` },
  EPERM: { code: 'FS_PERMISSION_DENIED', problem: 'operation not permitted', hint: (p) => `check the permissions and attributes of ${p}, or choose another path` },
  EROFS: { code: 'FS_READ_ONLY', problem: 'the file system is read-only', hint: () => 'choose a path on a writable file system (a volume or /tmp)' },
  ENOSPC: { code: 'FS_NO_SPACE', problem: 'no space left on the device', hint: (p) => `free space on the file system that holds ${p} (the blob cache can be removed), or choose another path` },
  EDQUOT: { code: 'FS_NO_SPACE', problem: 'disk quota exceeded', hint: (p) => `free space within your quota for ${p}, or choose another path` },
  ENOENT: { code: 'FS_NOT_FOUND', problem: 'no such file or directory', hint: (p) => `create ${path.dirname(p)} first, or check the path` },
  ENOTDIR: { code: 'FS_NOT_A_DIRECTORY', problem: 'a part of the path is not a directory', hint: (p) => `check each directory in ${p}; one of them is a file` },
  EISDIR: { code: 'FS_IS_A_DIRECTORY', problem: 'it is a directory', hint: () => 'give the path of a file, not a directory' },
  EEXIST: { code: 'FS_EXISTS', problem: 'it already exists', hint: (p) => `remove ${p} or choose another path` },
  ELOOP: { code: 'FS_SYMLINK_LOOP', problem: 'too many levels of symbolic links', hint: (p) => `check the symbolic links in ${p}` },
  ENAMETOOLONG: { code: 'FS_NAME_TOO_LONG', problem: 'the path is too long', hint: () => 'choose a shorter path' },
  EMFILE: { code: 'FS_TOO_MANY_FILES', problem: 'too many open files', hint: () => 'raise the open file limit (ulimit -n)' },
  ENFILE: { code: 'FS_TOO_MANY_FILES', problem: 'too many open files in the system', hint: () => 'raise the open file limit, or try again when fewer files are open' },
  EFBIG: { code: 'FS_FILE_TOO_LARGE', problem: 'the file is too large for this file system', hint: () => 'choose a path on a file system that holds large files' },
  EIO: { code: 'FS_IO_ERROR', problem: 'an input/output error', hint: (p) => `the device that holds ${p} failed; check it` },
  EBUSY: { code: 'FS_BUSY', problem: 'the resource is busy', hint: (p) => `check that nothing else uses ${p}` },
  ENXIO: { code: 'FS_NO_DEVICE', problem: 'no such device or address', hint: (p) => `${p} is a socket or a device without a driver; give a file, a FIFO or a device` },
  EXDEV: { code: 'FS_CROSS_DEVICE', problem: 'it is on another file system', hint: () => 'keep the files on one file system' },
};

/** The errno code of a Node system error, or undefined for anything else. */
export function errnoOf(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const code = (err as NodeJS.ErrnoException).code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}

/** Whether `err` is a system error this module turns into a FileSystemError. */
export function isFileSystemErrno(err: unknown): boolean {
  const code = errnoOf(err);
  return code !== undefined && Object.hasOwn(MAPPINGS, code);
}

/**
 * `err` as the user's error when it is a file system error: "cannot ACTION PATH:
 * PROBLEM" with a hint. `action` says what hoist was doing, e.g. "write the
 * OCI archive". Anything else (a HoistError, a bug) is returned unchanged.
 */
export function fsError(err: unknown, file: string, action: string): unknown {
  if (err instanceof HoistError) return err;
  const errno = errnoOf(err);
  const mapping = errno === undefined ? undefined : MAPPINGS[errno];
  if (errno === undefined || mapping === undefined) return err;
  const abs = path.resolve(file);
  return new FileSystemError(mapping.code, `cannot ${action} ${abs}: ${mapping.problem} (${errno})`, {
    path: abs,
    errno,
    hint: mapping.hint(abs),
    cause: err,
  });
}

/** Run `fn`, turning a file system error into the user's error about `file`. */
export async function withFsContext<T>(file: string, action: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw fsError(err, file, action);
  }
}

async function statOrUndefined(p: string): Promise<import('node:fs').Stats | undefined> {
  try {
    return await stat(p);
  } catch (err) {
    // ENOTDIR: a file further up is in the way; the caller finds it on its way up.
    if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENOTDIR') return undefined;
    throw err;
  }
}

/** A path that stat cannot find but lstat can is a dangling symbolic link: say where it points. */
async function danglingLink(p: string): Promise<string | undefined> {
  try {
    const st = await lstat(p);
    return st.isSymbolicLink() ? await readlink(p) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Make sure `dir` is a directory, creating it and its missing parents (mode
 * `mode`). `what` names it for messages ("the cache directory"). Never
 * loops: every missing component is created once, and a file system that
 * refuses (procfs, a dangling symlink, a file in the way) is reported.
 */
export async function ensureDirectory(dir: string, what: string, mode = 0o777): Promise<void> {
  const abs = path.resolve(dir);
  const missing: string[] = [];
  for (let p = abs; ; p = path.dirname(p)) {
    let st: import('node:fs').Stats | undefined;
    try {
      st = await statOrUndefined(p);
    } catch (err) {
      throw fsError(err, p, `use ${what}`);
    }
    if (st !== undefined) {
      if (!st.isDirectory()) {
        throw new FileSystemError('FS_NOT_A_DIRECTORY', `cannot create ${what} ${abs}: ${p} is not a directory`, {
          path: abs,
          hint: p === abs ? `remove the file ${p} or choose another directory` : `${p} is a file; remove it or choose another directory`,
        });
      }
      break;
    }
    const target = await danglingLink(p);
    if (target !== undefined) {
      throw new FileSystemError('FS_DANGLING_SYMLINK', `cannot create ${what} ${abs}: ${p} is a symbolic link to ${target}, which does not exist`, {
        path: abs,
        hint: `create ${path.resolve(path.dirname(p), target)}, or remove the link ${p}`,
      });
    }
    missing.push(p);
    if (path.dirname(p) === p) break;
  }
  for (const p of missing.reverse()) {
    try {
      await mkdir(p, { mode });
    } catch (err) {
      const errno = errnoOf(err);
      if (errno === 'EEXIST' && (await statOrUndefined(p).catch(() => undefined))?.isDirectory()) continue;
      if (errno === 'ENOENT') {
        // The parent exists (it was checked or just made): this file system refuses new entries.
        throw new FileSystemError('FS_CANNOT_CREATE', `cannot create ${what} ${abs}: ${path.dirname(p)} does not accept new directories`, {
          path: abs,
          errno,
          hint: 'choose a directory on an ordinary writable file system',
          cause: err,
        });
      }
      throw fsError(err, p, p === abs ? `create ${what}` : `create ${what} ${abs} at`);
    }
  }
}

/**
 * Check that files can be created in the existing directory `dir` by creating
 * and removing one, which catches what permission bits alone do not (a
 * read-only mount, root squash, a full quota on create).
 */
export async function checkWritableDirectory(dir: string, what: string): Promise<void> {
  const abs = path.resolve(dir);
  const st = await stat(abs).catch((err: unknown) => {
    throw errnoOf(err) === 'ENOENT'
      ? new FileSystemError('FS_NOT_FOUND', `${what}: the directory ${abs} does not exist`, { path: abs, errno: 'ENOENT', hint: `create it first (mkdir -p ${abs}), or choose another path` })
      : fsError(err, abs, `use ${what} in`);
  });
  if (!st.isDirectory()) {
    throw new FileSystemError('FS_NOT_A_DIRECTORY', `${what}: ${abs} is not a directory`, { path: abs, hint: 'choose a path in an existing directory' });
  }
  const probe = path.join(abs, `.hoist-probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const handle = await open(probe, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600);
    await handle.close();
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') {
      // The directory exists, yet a file cannot be made in it: procfs, sysfs and the like.
      throw new FileSystemError('FS_CANNOT_CREATE', `${what}: ${abs} does not accept new files`, {
        path: abs,
        errno: 'ENOENT',
        hint: 'choose a path on an ordinary writable file system',
        cause: err,
      });
    }
    throw fsError(err, abs, `write ${what} in`);
  }
  await unlink(probe).catch(() => undefined);
}
