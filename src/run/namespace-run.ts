import { namespaceMounts } from './namespace-mounts.js';
import path from 'node:path';
import { overlayOp, SETUP_SCRIPT, setupArgs, type MountOp } from './namespace-setup.js';
import type { ProcessSpec, RunIo, RunResult } from './process-spec.js';
import { RootfsScaffold, SourceScaffolds } from './scaffold.js';
import { spawnStep } from './spawn-step.js';
import { copyNetworkFiles, enterRootArgs, requireTool, spawnEnv, type RunnerOptions } from './step-env.js';
import { TOOL_PATH } from './host-tools.js';

/**
 * Run a step under `unshare FLAGS` (a new mount and PID namespace, and a user
 * namespace for the userns runner): the setup script mounts /dev and the
 * rest inside it, then the step gets a PID namespace of its own, mounts
 * /proc there and enters the rootfs. `--kill-child` ties
 * the namespace's init to unshare, so killing unshare ends the whole tree.
 */
export async function runInNamespace(
  runner: string,
  unshareFlags: readonly string[],
  setIds: boolean,
  opts: RunnerOptions,
  spec: ProcessSpec,
  io: RunIo,
  signal?: AbortSignal,
): Promise<RunResult> {
  const { tools } = opts;
  const unshare = requireTool(tools, 'unshare', runner);
  const sh = requireTool(tools, 'sh', runner);
  const mount = requireTool(tools, 'mount', runner);
  const touch = requireTool(tools, 'touch', runner);
  const scaffold = new RootfsScaffold(spec.rootfs, touch);
  const sources = new SourceScaffolds(touch);
  const net = await copyNetworkFiles(opts);
  try {
    const { ops, proc } = await namespaceMounts(spec, scaffold, net, sources);
    if (spec.overlay !== undefined) {
      const workdir = (spec.makeDirs ?? []).map((dir): MountOp => ({ op: 'workdir', target: path.join(spec.rootfs, dir) }));
      ops.unshift(overlayOp(spec.rootfs, spec.overlay, unshareFlags.includes('--user')), ...workdir);
    }
    const flags = [...unshareFlags, '--mount', '--propagation=private', '--pid', '--fork', '--kill-child'];
    if (spec.network === 'none') flags.push('--net');
    await scaffold.seal();
    return await spawnStep({
      sh,
      command: unshare,
      args: [...flags, '--', sh, '-c', SETUP_SCRIPT, 'hoist-setup', ...setupArgs(mount, ops, { unshare, sh, proc }), ...enterRootArgs(tools, runner, spec, setIds)],
      env: spawnEnv(spec, TOOL_PATH),
      io,
      ...(signal !== undefined ? { signal } : {}),
    });
  } finally {
    await scaffold.undo();
    await sources.undo();
    await net.remove();
  }
}
