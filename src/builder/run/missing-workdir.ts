import { chmod, lstat, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { DockerfileError } from '../../dockerfile/errors.js';
import type { SourceLocation } from '../../errors.js';

/**
 * The parts of the working directory the image lacks, parent first (paths
 * inside the image): the step makes them, as BuildKit's executor makes a
 * missing cwd, so they are in its layer, 0755 and the image root's, with
 * every runner and snapshotter. Stops at the first symlink on the way
 * (which could lead out of the rootfs): the runner resolves it inside the
 * rootfs (nsenter --wdns after chroot); hoist does not follow it here.
 */
export async function missingWorkdir(rootfs: string, cwd: string, location: SourceLocation | undefined): Promise<string[]> {
  const missing: string[] = [];
  let at = '';
  // A base image's WorkingDir is the image's word: `..` stops at its root, as inside the container.
  for (const part of path.posix.resolve('/', cwd).split('/').filter((p) => p !== '')) {
    at = `${at}/${part}`;
    if (missing.length > 0) {
      missing.push(at);
      continue;
    }
    const st = await lstat(path.join(rootfs, at)).catch(() => undefined);
    if (st === undefined) missing.push(at);
    else if (st.isSymbolicLink()) return [];
    else if (!st.isDirectory()) {
      throw new DockerfileError('RUN_WORKDIR', `the working directory ${cwd} is not a directory in the image`, location, {
        hint: 'set WORKDIR to a directory',
      });
    }
  }
  return missing;
}

/** `missingWorkdir`'s directories, made in the rootfs by hoist (a runner on an overlay makes them in its merged view instead). */
export async function makeWorkdir(rootfs: string, missing: readonly string[]): Promise<void> {
  for (const dir of missing) {
    const at = path.join(rootfs, dir);
    await mkdir(at);
    await chmod(at, 0o755); // as Docker makes it, whatever hoist's umask
  }
}

