/**
 * What writing to a path really writes. Write-then-rename is right for a
 * regular file only: renaming over a device, a FIFO or a symbolic link would
 * replace it with a regular file (`--output dest=/dev/full` once turned the
 * device node into a file). So a symbolic link is followed to its final
 * target, which is replaced if it is a regular file (or does not exist yet);
 * a device or FIFO is written into; and a link in procfs (`/proc/self/fd/1`,
 * `/dev/stdout`) is opened as is, since its target is an open file, not a path.
 */
import { lstat, readlink, realpath, statfs } from 'node:fs/promises';
import path from 'node:path';
import { errnoOf, fsError, FileSystemError } from '../fs-errors.js';

export type WriteTarget =
  /** A regular file, a directory (the caller reports it) or nothing yet: written to a temp file and renamed to `path`. */
  | { kind: 'replace'; path: string }
  /** A device, FIFO or procfs link: opened and written into at `path`. */
  | { kind: 'into'; path: string };

/** Linux follows at most 40 links in one lookup. */
const MAX_LINKS = 40;
const PROC_SUPER_MAGIC = 0x9fa0;

async function onProcfs(dir: string): Promise<boolean> {
  return statfs(dir).then(
    (s) => s.type === PROC_SUPER_MAGIC,
    () => false,
  );
}

/** Where writing `file` goes; a socket, a link loop or an unreadable link is the user's error about `file`. */
export async function resolveWriteTarget(file: string, action = 'write'): Promise<WriteTarget> {
  let p = path.resolve(file);
  for (let hops = 0; hops <= MAX_LINKS; hops++) {
    const st = await lstat(p).catch((err: unknown) => {
      // A missing directory on the way is reported by whoever creates the file.
      if (errnoOf(err) === 'ENOENT' || errnoOf(err) === 'ENOTDIR') return undefined;
      throw fsError(err, p, action);
    });
    if (st === undefined || st.isFile() || st.isDirectory()) return { kind: 'replace', path: p };
    if (!st.isSymbolicLink()) {
      if (st.isSocket()) {
        throw new FileSystemError('FS_SOCKET', `cannot ${action} ${p}: it is a socket`, { path: p, hint: 'give the path of a file, a FIFO or a device' });
      }
      return { kind: 'into', path: p };
    }
    const dir = await realpath(path.dirname(p)).catch((err: unknown) => {
      throw fsError(err, p, action);
    });
    if (await onProcfs(dir)) return { kind: 'into', path: p };
    const target = await readlink(p).catch((err: unknown) => {
      throw fsError(err, p, action);
    });
    p = path.resolve(dir, target);
  }
  throw new FileSystemError('FS_SYMLINK_LOOP', `cannot ${action} ${path.resolve(file)}: too many levels of symbolic links (ELOOP)`, {
    path: path.resolve(file),
    errno: 'ELOOP',
    hint: `check the symbolic links in ${path.resolve(file)}`,
  });
}
