/**
 * Removing a root filesystem (or an overlay work dir) reliably. A tree that
 * an image or a RUN step made may hold directories without write or search
 * permission (mode 0555 or 000; overlay leaves `W/work` at 000 after
 * unmount), which `rm -rf` cannot empty as an ordinary user. On such a
 * failure, every directory of the tree is given u+rwx first (lstat only:
 * symlinks are never followed, so nothing outside the tree is touched),
 * then the removal is tried again.
 */
import { chmod, lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoOf, fsError } from '../../src/fs-errors.js';

const OWNER_RWX = 0o700;

/** Remove `dir` and everything below it; nothing happens when it does not exist. */
export async function removeRootfs(dir: string): Promise<void> {
  try {
    await rm(dir, { recursive: true, force: true });
    return;
  } catch (err) {
    const errno = errnoOf(err);
    if (errno !== 'EACCES' && errno !== 'EPERM' && errno !== 'ENOTEMPTY') throw fsError(err, dir, 'remove the root filesystem');
  }
  await openUp(dir);
  try {
    await rm(dir, { recursive: true, force: true });
  } catch (err) {
    throw fsError(err, dir, 'remove the root filesystem');
  }
}

/** Give every directory of the tree at `top` owner rwx, top-down, so that it can be read and emptied. */
async function openUp(top: string): Promise<void> {
  const pending = [top];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    const st = await lstat(dir).catch(() => undefined);
    if (st === undefined || !st.isDirectory()) continue;
    if ((st.mode & OWNER_RWX) !== OWNER_RWX) await chmod(dir, (st.mode & 0o7777) | OWNER_RWX).catch(() => undefined);
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) pending.push(join(dir, name));
  }
}
