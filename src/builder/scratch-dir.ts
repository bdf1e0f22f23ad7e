/**
 * A build's scratch directory in TMPDIR (downloads, archive spools, stage
 * root filesystems), and the removal of those that killed builds left.
 *
 * The name says who made it: `hoist-build-<pid namespace>-<pid>-XXXXXX`. A
 * build removes its own directory when it ends, is aborted or interrupted;
 * one killed with SIGKILL (or by the OOM killer) cannot, so the next build
 * removes every such directory whose process no longer runs. Only
 * directories made in this PID namespace are judged: a pid from another
 * namespace (a container sharing TMPDIR) says nothing here, and a pid that
 * runs again for another program only keeps a dead build's directory a
 * little longer.
 */
import { mkdtemp, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fsError } from '../fs-errors.js';
import { pidNamespace, processIsRunning } from '../oci/process-alive.js';
import { removeRootfs } from '../../snapshot/rootfs/remove.js';

const PREFIX = 'hoist-build-';
const NAME = /^hoist-build-(\d+|x)-(\d+)-[^-]+$/;

/** Make this build's scratch directory in `tmp`. */
export async function createScratchDir(tmp: string): Promise<string> {
  const prefix = path.join(tmp, `${PREFIX}${pidNamespace()}-${process.pid}-`);
  return mkdtemp(prefix).catch((err: unknown) => {
    throw fsError(err, tmp, 'create a scratch directory in');
  });
}

/**
 * Remove the scratch directories of dead builds from `tmp`; returns their
 * names. Best effort: one that cannot be removed is left for the next try.
 */
export async function removeDeadScratchDirs(
  tmp: string,
  isRunning: (pid: number) => boolean = processIsRunning,
): Promise<string[]> {
  const names = await readdir(tmp).catch(() => [] as string[]);
  const ns = pidNamespace();
  const removed: string[] = [];
  for (const name of names) {
    const m = NAME.exec(name);
    if (m === null || m[1] === 'x' || m[1] !== ns) continue;
    const pid = Number(m[2]);
    if (pid === process.pid || isRunning(pid)) continue;
    try {
      await removeRootfs(path.join(tmp, name));
      removed.push(name);
    } catch {
      // Left for the next build; this one does not depend on it.
    }
  }
  return removed;
}
