import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createScratchDir, removeDeadScratchDirs } from '../../../src/builder/scratch-dir.js';
import { tempDir } from '../../helpers/build.js';

/** The pid of a process that has ended. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  expect(r.status).toBe(0);
  return r.pid;
}

const ns = /^pid:\[(\d+)\]$/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] as string;

describe('build scratch directories in TMPDIR', () => {
  it('are named for the PID namespace and the process that made them', async () => {
    const tmp = tempDir('hoist-scratch-');
    const dir = await createScratchDir(tmp);
    expect(path.dirname(dir)).toBe(tmp);
    expect(path.basename(dir)).toMatch(new RegExp(`^hoist-build-${ns}-${process.pid}-[^-]+$`));
  });

  it('of dead builds are removed, protected directories inside included; those of live builds and of other namespaces are kept', async () => {
    const tmp = tempDir('hoist-scratch-');
    const live = spawn('sleep', ['60']);
    try {
      const dead = `hoist-build-${ns}-${deadPid()}-aaaaaa`;
      const alive = `hoist-build-${ns}-${live.pid as number}-bbbbbb`;
      const mine = `hoist-build-${ns}-${process.pid}-cccccc`;
      const otherNamespace = `hoist-build-1-${deadPid()}-dddddd`;
      const oldStyle = 'hoist-build-eeeeee';
      const unrelated = `hoist-buildx-${ns}-${deadPid()}-ffffff`;
      for (const name of [dead, alive, mine, otherNamespace, oldStyle, unrelated]) mkdirSync(path.join(tmp, name));
      // A stage rootfs a killed build left: a read-only directory with a file in it.
      mkdirSync(path.join(tmp, dead, 'rootfs', 'usr'), { recursive: true });
      writeFileSync(path.join(tmp, dead, 'rootfs', 'usr', 'f'), 'x');
      chmodSync(path.join(tmp, dead, 'rootfs', 'usr'), 0o555);

      expect(await removeDeadScratchDirs(tmp)).toEqual([dead]);
      expect(existsSync(path.join(tmp, dead))).toBe(false);
      expect(readdirSync(tmp).sort()).toEqual([alive, mine, otherNamespace, oldStyle, unrelated].sort());
    } finally {
      live.kill('SIGKILL');
    }
  });

  it('a TMPDIR that cannot be read is no reason to fail', async () => {
    expect(await removeDeadScratchDirs(path.join(tempDir('hoist-scratch-'), 'missing'))).toEqual([]);
  });
});
