import { chmod } from 'node:fs/promises';
import { HoistError } from '../errors.js';
import { runInNamespace } from './namespace-run.js';
import { killProcessesRootedIn, processTable } from './leftover-processes.js';
import { EmulatedMounts } from './mount-emulation.js';
import { DEVICES } from './namespace-setup.js';
import type { ProcessSpec, RunIo, RunResult, Runner } from './process-spec.js';
import { RootfsScaffold, UnsafeMountpointError } from './scaffold.js';
import { spawnStep } from './spawn-step.js';
import { checkSpec, copyNetworkFiles, enterRootArgs, refuseOverlay, requireTool, spawnEnv, withHostToolVariablesInside, type RunnerOptions } from './step-env.js';

export interface ChrootOptions extends RunnerOptions {
  /**
   * Whether `unshare --mount --pid` works (root with CAP_SYS_ADMIN). Without
   * it the step runs in a plain chroot: no /proc, device nodes made with
   * mknod (and removed after the step), RUN mounts copied in and out.
   */
  mountNamespace: boolean;
}

/** Root in a container (the GitLab docker executor, Fargate): chroot, with a mount namespace when one is allowed. */
export class ChrootRunner implements Runner {
  readonly kind = 'chroot' as const;
  /** Plain-chroot steps running now (stages build at once): leftovers hoist cannot read the root of are a step's only when it ran alone. */
  private running = 0;
  constructor(private readonly opts: ChrootOptions) {}

  get copiesMounts(): boolean {
    return !this.opts.mountNamespace;
  }

  async run(given: ProcessSpec, io: RunIo, signal?: AbortSignal): Promise<RunResult> {
    checkSpec(given);
    const spec = await withHostToolVariablesInside(given, { keepOrder: true });
    if (this.opts.mountNamespace) return runInNamespace(this.kind, [], true, this.opts, spec, io, signal);
    refuseOverlay(spec, this.kind);
    if (spec.network === 'none') {
      throw new HoistError('RUN_NETWORK_UNSUPPORTED', 'RUN --network=none needs a network namespace, and the chroot runner cannot make one here', {
        hint: 'drop --network=none, or build where user or mount namespaces are allowed (hoist doctor shows what works here)',
      });
    }
    return this.runPlain(spec, io, signal);
  }

  private async runPlain(spec: ProcessSpec, io: RunIo, signal?: AbortSignal): Promise<RunResult> {
    const { tools } = this.opts;
    const scaffold = new RootfsScaffold(spec.rootfs, requireTool(tools, 'touch', this.kind));
    const net = await copyNetworkFiles(this.opts);
    // No mount can be made here: the step's mounts are copied in, and taken out again after it.
    const mounts = new EmulatedMounts(tools.cp);
    let ran = false;
    try {
      await mounts.apply(spec, scaffold);
      await scaffold.ensure('dev', 'dir');
      // Docker's /dev/shm is a tmpfs anyone may write to (sticky): a directory stands in, removed with what the step left there.
      if (!(await scaffold.exists('dev/shm'))) await chmod(await scaffold.ensure('dev/shm', 'dir'), 0o1777);
      const mknod = tools.mknod;
      for (const d of DEVICES) {
        // A node the image ships stays as it is; where mknod is not allowed the step goes without.
        if (mknod === undefined || (await scaffold.exists(`dev/${d.name}`))) continue;
        await scaffold.mknod(mknod, `dev/${d.name}`, d.major, d.minor).catch(() => undefined);
      }
      for (const f of net.files) {
        if (await scaffold.exists(f.target)) continue; // the image's own stays
        try {
          await scaffold.ensure('etc', 'dir');
          await scaffold.copyIn(f.copy, f.target);
        } catch (err) {
          if (!(err instanceof UnsafeMountpointError)) throw err;
        }
      }
      const [command, ...args] = enterRootArgs(tools, this.kind, spec, true) as [string, ...string[]];
      await scaffold.seal();
      ran = true;
      // No PID namespace ends what the step leaves running: a daemon that left the process group is found by its root.
      const before = processTable();
      const afterExit = (): Promise<number> => killProcessesRootedIn(spec.rootfs, this.running === 1 ? { soleStepSince: before } : {});
      this.running += 1;
      let result: RunResult;
      try {
        result = await spawnStep({ sh: requireTool(tools, 'sh', this.kind), command, args, env: spawnEnv(spec), io, killGroupOnExit: true, afterExit, ...(signal !== undefined ? { signal } : {}) });
      } finally {
        this.running -= 1;
      }
      const moved = await mounts.movedFileCopies();
      if (moved.length > 0) {
        throw new HoistError('RUN_MOUNT_MOVED', `the step moved or removed the file mounted at ${moved.join(', ')}: without a mount namespace hoist copies a mount's file in, and a copy moved elsewhere would go into the layer (a secret among them)`, {
          hint: 'leave mounted files where they are (Docker refuses to move or remove a mount point: EBUSY), or build where mount namespaces are allowed',
        });
      }
      return result;
    } finally {
      try {
        if (ran) await mounts.finish();
      } finally {
        await scaffold.undo();
        await mounts.close();
        await net.remove();
      }
    }
  }
}
