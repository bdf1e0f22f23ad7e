import { chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { constants } from 'node:os';
import { HoistError } from '../errors.js';
import { rootOnly, type IdMap } from './id-map.js';
import type { ProcessSpec, RunIo, RunResult, Runner } from './process-spec.js';
import { DEVICES } from './namespace-setup.js';
import { RootfsScaffold, SourceScaffolds, UnsafeMountpointError } from './scaffold.js';
import { watchTracees, type TraceeWatch } from './leftover-processes.js';
import { spawnStep } from './spawn-step.js';
import { copyTree } from './mount-emulation.js';
import { findProgramInside } from './resolve-inside.js';
import { prootSharesHeapAcrossExec, syscallShim } from './syscall-shim.js';
import { hasGlibc } from './fakeroot-recorder.js';
import { checkSpec, copyNetworkFiles, envArgs, refuseOverlay, requireTool, spawnEnv, withHostToolVariablesInside, type RunnerOptions } from './step-env.js';

/**
 * ptrace instead of namespaces (restricted pods, Fargate): `proot -0` fakes
 * root, `-i UID:GID` a non-root USER, and binds appear without mount points
 * in the rootfs. Supplementary groups cannot be faked. proot makes no
 * network namespace, so --network=none is refused.
 */
export interface ProotOptions extends RunnerOptions {
  /**
   * Whether this proot has --kill-on-exit (5.2 and later; Debian 12 ships
   * 5.1). Without it hoist kills what proot still traces once the step's
   * main process is gone (leftover-processes.ts).
   */
  killOnExit: boolean;
  /** proot's version (`proot --version`), where known: before 5.2 the steps' heap is left to the kernel (syscall-shim.ts). */
  version?: string;
}

/** Where the syscall shim is bound inside the rootfs for the length of a step. */
const SHIM_TARGET = '/.hoist-syscall-shim';

export class ProotRunner implements Runner {
  readonly kind = 'proot' as const;
  /** proot fakes root over hoist's own ids: whatever the step makes as root belongs to hoist on disk. */
  readonly idMap: IdMap | undefined;
  constructor(private readonly opts: ProotOptions) {
    const hoist = { uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0 };
    this.idMap = hoist.uid === 0 && hoist.gid === 0 ? undefined : rootOnly(hoist);
  }

  async run(given: ProcessSpec, io: RunIo, signal?: AbortSignal): Promise<RunResult> {
    checkSpec(given);
    const spec = await withHostToolVariablesInside(given, { keepOrder: false });
    refuseOverlay(spec, this.kind);
    const proot = requireTool(this.opts.tools, 'proot', this.kind);
    if (spec.network === 'none') {
      throw new HoistError('RUN_NETWORK_UNSUPPORTED', 'RUN --network=none needs a network namespace, and the proot runner has none', {
        hint: 'drop --network=none, or build where user namespaces are allowed (hoist doctor shows what works here)',
      });
    }
    // proot binds onto missing paths by creating and deleting them in the rootfs, which changes the
    // parents' times: the mount points are made here instead, and removed with the times restored.
    const scaffold = new RootfsScaffold(spec.rootfs, requireTool(this.opts.tools, 'touch', this.kind));
    const net = await copyNetworkFiles(this.opts);
    const sources = new SourceScaffolds(requireTool(this.opts.tools, 'touch', this.kind));
    const cleanups: string[] = [];
    try {
      const args = [spec.uid === 0 && spec.gid === 0 ? '-0' : `-i`];
      if (args[0] === '-i') args.push(`${spec.uid}:${spec.gid}`);
      if (this.opts.killOnExit) args.push('--kill-on-exit');
      args.push('-r', spec.rootfs, '-w', spec.cwd);
      for (const d of DEVICES) {
        await scaffold.ensure(`dev/${d.name}`, 'file');
        args.push('-b', `/dev/${d.name}`);
      }
      try {
        await scaffold.ensure('dev/fd', 'dir');
        args.push('-b', '/proc/self/fd:/dev/fd');
      } catch (err) {
        // An image that ships /dev/fd as a link (to /proc/self/fd, as debootstrap makes it) keeps its own.
        if (!(err instanceof UnsafeMountpointError)) throw err;
      }
      // No ptys: the host's /dev/pts would hand the step the terminals of hoist's user (TIOCSTI types into them).
      try {
        // Docker's /dev/shm is a tmpfs anyone may write to: an empty 1777 directory of hoist's stands in.
        await scaffold.ensure('dev/shm', 'dir');
        args.push('-b', `${await emptyDir(this.opts.tmpDir, cleanups)}:/dev/shm`);
      } catch (err) {
        if (!(err instanceof UnsafeMountpointError)) throw err;
      }
      await scaffold.ensure('proc', 'dir');
      args.push('-b', '/proc');
      for (const f of net.files) {
        try {
          await scaffold.ensure(f.target, 'file');
          args.push('-b', `${f.copy}:/${f.target}`);
        } catch (err) {
          if (!(err instanceof UnsafeMountpointError)) throw err;
        }
      }
      const bound: { target: string; source: string }[] = [];
      for (const m of spec.mounts) {
        // proot has no tmpfs: an empty directory of hoist's stands in, removed after the step.
        const source = m.kind === 'tmpfs' ? await emptyDir(this.opts.tmpDir, cleanups) : m.readonly === true && m.shared === true ? await copyOfShared(requireTool(this.opts.tools, 'cp', this.kind), m.source, this.opts.tmpDir, cleanups) : m.source;
        const kind = m.kind === 'tmpfs' || (await stat(source)).isDirectory() ? 'dir' : 'file';
        await scaffold.ensure(m.target, kind, { keepUsed: 'parents' });
        // Inside an earlier bind, proot would make (and remove) the mount point in its source: made here, times kept.
        const outer = bound.filter((o) => m.target.startsWith(`${o.target}/`)).at(-1);
        if (outer !== undefined) await sources.of(outer.source).ensure(path.posix.relative(outer.target, m.target), kind);
        bound.push({ target: m.target, source });
        // proot cannot make a bind read-only: every read-only source it binds is a copy of its own (a shared one, a cache, copied just above), discarded after the step.
        args.push('-b', `${source}:${m.target}`);
      }
      // Every proot release mishandles clone3 and io_uring, those before 5.4 statx and faccessat2, and those before 5.2 a heap shared with a child (syscall-shim.ts).
      const argv = await this.throughShim(spec, scaffold, cleanups, args);
      // The step's PROOT_* variables, which proot would read as its own, were moved inside with the loader's (withHostToolVariablesInside).
      // proot exits 255 when the step dies of a signal, and says which on stderr.
      let tail = '';
      const watched: RunIo = {
        stdout: (c) => io.stdout(c),
        stderr: (c) => {
          tail = (tail + c.toString('latin1')).slice(-1024);
          io.stderr(c);
        },
      };
      await scaffold.seal();
      // Without --kill-on-exit, proot would wait for a daemon the step left; with it, an abort still must not leave one (leftover-processes.ts).
      let tracees: TraceeWatch | undefined;
      const watch = (pid: number): TraceeWatch => (tracees = watchTracees(pid, { reapAfterMain: !this.opts.killOnExit }));
      // proot hands its own environment to the step. It starts through the host's sh (for the umask), which would
      // reorder an environment and drop names it cannot hold: the host's env sets it, as in the other runners, and
      // a secret still comes through the environment, never a command line.
      const [command, ...envThenProot] = [...envArgs(requireTool(this.opts.tools, 'env', this.kind), spec), proot, ...args, ...argv] as [string, ...string[]];
      const result = await spawnStep({ sh: requireTool(this.opts.tools, 'sh', this.kind), command, args: envThenProot, env: spawnEnv(spec), io: watched, killGroupOnExit: true, watch, ...(signal !== undefined ? { signal } : {}) });
      // The last death proot reports that is not of a tracee the watch killed.
      const deaths = [...tail.matchAll(/proot info: pid (\d+): terminated with signal (\d+)/g)].filter((m) => !(tracees?.killed.has(Number(m[1])) ?? false));
      const lastSignal = deaths.length > 0 ? Number(deaths[deaths.length - 1]?.[2]) : undefined;
      const name = lastSignal === undefined ? undefined : signalName(lastSignal);
      return result.exitCode === 255 && result.signal === undefined && name !== undefined ? { exitCode: 128 + (lastSignal as number), signal: name } : result;
    } finally {
      await scaffold.undo();
      await sources.undo();
      await net.remove();
      for (const dir of cleanups) await rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * The step's argv behind the syscall shim, bound into the rootfs (its bind
   * pushed on `args`); the argv as it is where the shim cannot be used: no
   * shim for this machine, the mount point taken, or a command that PATH does
   * not find in the image (the shim executes a path; proot then says what is
   * missing, as before).
   */
  private async throughShim(spec: ProcessSpec, scaffold: RootfsScaffold, cleanups: string[], args: string[]): Promise<readonly string[]> {
    const shim = syscallShim(process.arch, { kernelHeap: prootSharesHeapAcrossExec(this.opts.version) });
    const [program, ...rest] = spec.argv;
    // Only glibc calls faccessat2 and statx (2.33 and later) and clone3 (2.34): a static or musl image sees no shim (its io_uring, rare, is left to it).
    if (shim === undefined || program === undefined || !(await hasGlibc(spec.rootfs))) return spec.argv;
    const found = await findProgramInside(spec.rootfs, program, spec.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', spec.cwd);
    if (found === undefined) return spec.argv;
    try {
      await scaffold.ensure(SHIM_TARGET.slice(1), 'file');
    } catch (err) {
      if (err instanceof UnsafeMountpointError) return spec.argv;
      throw err;
    }
    const dir = await mkdtemp(path.join(this.opts.tmpDir, 'shim-'));
    cleanups.push(dir);
    const file = path.join(dir, 'shim');
    await writeFile(file, shim, { mode: 0o755 });
    await chmod(file, 0o755);
    args.push('-b', `${file}:${SHIM_TARGET}`);
    // The path PATH found, then the argv as given: the program sees the argv[0] it would see under Docker (`RUN ["sh", "-c", "echo $0"]` says sh).
    return [SHIM_TARGET, found.at, program, ...rest];
  }
}

/** A copy of a shared source (a cache) for a read-only bind, which proot cannot make: the step's writes land in the copy, removed after it. */
async function copyOfShared(cp: string, source: string, parent: string, cleanups: string[]): Promise<string> {
  const dir = await mkdtemp(path.join(parent, 'ro-'));
  cleanups.push(dir);
  await copyTree(cp, [`${source}/.`, `${dir}/`]);
  return dir;
}

/** A new empty 1777 directory under `parent` (a tmpfs's stand-in), noted in `cleanups`. */
async function emptyDir(parent: string, cleanups: string[]): Promise<string> {
  const dir = await mkdtemp(path.join(parent, 'tmpfs-'));
  cleanups.push(dir);
  await chmod(dir, 0o1777);
  return dir;
}

function signalName(n: number): NodeJS.Signals | undefined {
  return (Object.entries(constants.signals) as [NodeJS.Signals, number][]).find(([, v]) => v === n)?.[0];
}
