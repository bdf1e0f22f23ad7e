/**
 * A busybox root filesystem on disk, from Debian's busybox-static (as
 * ../shared/TESTBED.md describes): the static binary, one symlink per applet,
 * /etc/passwd and /etc/group with root and a non-root `app` user, and /tmp.
 * No /proc or /dev: runners must make (and remove) what they mount on.
 */
import { execFileSync } from 'node:child_process';
import { chmod, copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ensureDebianPackages, findCommand } from './packages.js';

export const APP_UID = 1000;
export const APP_GID = 1000;
/** A supplementary group of `app`. */
export const STAFF_GID = 50;

export async function busyboxBinary(): Promise<string> {
  await ensureDebianPackages(['busybox-static']);
  const found = findCommand('busybox');
  if (found === undefined) throw new Error('busybox-static is installed but busybox is not on PATH');
  return found;
}

/** Create the rootfs in `root` (which must not exist yet or be empty). */
export async function makeBusyboxRootfs(root: string): Promise<void> {
  const busybox = await busyboxBinary();
  await mkdir(path.join(root, 'bin'), { recursive: true });
  await copyFile(busybox, path.join(root, 'bin/busybox'));
  await chmod(path.join(root, 'bin/busybox'), 0o755);
  const applets = execFileSync(busybox, ['--list-full'], { encoding: 'utf8' }).split('\n').filter((p) => p !== '' && p !== 'bin/busybox');
  for (const rel of applets) {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await symlink('/bin/busybox', path.join(root, rel));
  }
  await mkdir(path.join(root, 'etc'), { recursive: true });
  await writeFile(path.join(root, 'etc/passwd'), `root:x:0:0:root:/root:/bin/sh\napp:x:${APP_UID}:${APP_GID}:app:/home/app:/bin/sh\n`);
  await writeFile(path.join(root, 'etc/group'), `root:x:0:\nstaff:x:${STAFF_GID}:app\napp:x:${APP_GID}:\n`);
  await mkdir(path.join(root, 'root'), { mode: 0o700 });
  await mkdir(path.join(root, 'home/app'), { recursive: true });
  await mkdir(path.join(root, 'tmp'));
  await chmod(path.join(root, 'tmp'), 0o1777);
}
