import { chmod } from 'node:fs/promises';
import path from 'node:path';

/**
 * What overlayfs leaves in its work dir after the unmount, mode 000 and
 * owned by whoever mounted it: `work`, and under a volatile mount
 * `work/incompat/volatile/dirty`. Its directories are opened up (u+rwx),
 * top-down, so that an ordinary user can remove the tree (`dirty` is a file:
 * removing it needs only its directory's permissions); what is not there is
 * skipped.
 */
export async function openOverlayWorkDir(workdir: string): Promise<void> {
  for (const rel of ['work', 'work/incompat', 'work/incompat/volatile']) {
    await chmod(path.join(workdir, rel), 0o700).catch(() => undefined);
  }
}
