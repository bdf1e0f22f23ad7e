/**
 * A busybox root filesystem from Debian's `busybox-static`, made as
 * ../shared/TESTBED.md says: the static binary, one symlink per applet,
 * /etc/passwd and /etc/group with a non-root user and group (app, 1000:1000),
 * and /tmp with mode 1777. As root, /home/app belongs to app.
 */
import { chmod, chown, copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execOk } from './peers/exec.js';
import { ensureDebianPackages } from './packages.js';

export const BUSYBOX_APP = { uid: 1000, gid: 1000 };

/** The busybox binary that `busybox-static` installs (installed on first use). */
export async function busyboxBinary(): Promise<string> {
  await ensureDebianPackages(['busybox-static']);
  const files = (await execOk('dpkg', ['-L', 'busybox-static'])).split('\n');
  const bin = files.find((f) => /\/bin\/busybox$/.test(f));
  if (bin === undefined) throw new Error('busybox-static installs no bin/busybox');
  return bin;
}

/** Fill the empty or missing directory `root` with a busybox rootfs. */
export async function makeBusyboxRootfs(root: string): Promise<void> {
  const binary = await busyboxBinary();
  await mkdir(path.join(root, 'bin'), { recursive: true });
  const busybox = path.join(root, 'bin/busybox');
  await copyFile(binary, busybox);
  await chmod(busybox, 0o755);
  for (const applet of (await execOk(busybox, ['--list-full'])).split('\n')) {
    const rel = applet.trim();
    if (rel === '' || rel === 'bin/busybox') continue;
    await mkdir(path.join(root, path.dirname(rel)), { recursive: true });
    await symlink('/bin/busybox', path.join(root, rel));
  }
  await mkdir(path.join(root, 'etc'), { recursive: true });
  await writeFile(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
  await writeFile(path.join(root, 'etc/group'), 'root:x:0:\napp:x:1000:\nnogroup:x:65534:\n');
  await mkdir(path.join(root, 'tmp'), { recursive: true });
  await chmod(path.join(root, 'tmp'), 0o1777);
  await mkdir(path.join(root, 'root'), { recursive: true, mode: 0o700 });
  await mkdir(path.join(root, 'home/app'), { recursive: true });
  if (process.getuid?.() === 0) await chown(path.join(root, 'home/app'), BUSYBOX_APP.uid, BUSYBOX_APP.gid);
}
