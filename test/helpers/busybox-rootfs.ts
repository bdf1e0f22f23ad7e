/**
 * A busybox root filesystem on disk, from Debian's busybox-static (as
 * ../shared/TESTBED.md describes): the static binary, one symlink per applet,
 * /etc/passwd and /etc/group with root, a non-root `app` user (1000:1000, also
 * in group staff) and nobody, and /tmp with mode 1777. As root, /home/app
 * belongs to app. No /proc or /dev: runners must make (and remove) what they
 * mount on.
 */
import { execFileSync } from 'node:child_process';
import { chmod, chown, copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ensureDebianPackages, findCommand } from './packages.js';

export const APP_UID = 1000;
export const APP_GID = 1000;
export const BUSYBOX_APP = { uid: APP_UID, gid: APP_GID };
/** A supplementary group of `app`. */
export const STAFF_GID = 50;

/** The busybox binary that `busybox-static` installs (installed on first use). */
export async function busyboxBinary(): Promise<string> {
  await ensureDebianPackages(['busybox-static']);
  const found = findCommand('busybox');
  if (found === undefined) throw new Error('busybox-static is installed but busybox is not on PATH');
  return found;
}

/** Fill the empty or missing directory `root` with a busybox rootfs. */
export async function makeBusyboxRootfs(root: string): Promise<void> {
  const busybox = await busyboxBinary();
  await mkdir(path.join(root, 'bin'), { recursive: true });
  await copyFile(busybox, path.join(root, 'bin/busybox'));
  await chmod(path.join(root, 'bin/busybox'), 0o755);
  const applets = execFileSync(busybox, ['--list-full'], { encoding: 'utf8' }).split('\n').map((p) => p.trim()).filter((p) => p !== '' && p !== 'bin/busybox');
  for (const rel of applets) {
    await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await symlink('/bin/busybox', path.join(root, rel));
  }
  await mkdir(path.join(root, 'etc'), { recursive: true });
  await writeFile(
    path.join(root, 'etc/passwd'),
    `root:x:0:0:root:/root:/bin/sh\napp:x:${APP_UID}:${APP_GID}:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n`,
  );
  await writeFile(path.join(root, 'etc/group'), `root:x:0:\nstaff:x:${STAFF_GID}:app\napp:x:${APP_GID}:\nnogroup:x:65534:\n`);
  await mkdir(path.join(root, 'root'), { recursive: true, mode: 0o700 });
  await mkdir(path.join(root, 'home/app'), { recursive: true });
  if (process.getuid?.() === 0) await chown(path.join(root, 'home/app'), APP_UID, APP_GID);
  await mkdir(path.join(root, 'tmp'), { recursive: true });
  await chmod(path.join(root, 'tmp'), 0o1777);
}
