/**
 * Processes a step leaves behind, where no PID namespace ends them with it.
 * Docker stops every process of a RUN's container when its main process
 * exits, so `service postgresql start`, gpg's agents or `server & curl ...`
 * never outlive their step. hoist's namespace runners get that from the
 * PID namespace; the others kill the step's process group, which a daemon
 * leaves (setsid, start-stop-daemon --background). What is left is found
 * through /proc:
 *
 * - plain chroot: every process whose root directory is the rootfs (or a
 *   directory below it). hoist is root there, so it may read every
 *   process's root; a step that left its chroot is out of reach, as the
 *   README says.
 *   Where hoist may not read a process's root (another user's, without
 *   CAP_SYS_PTRACE), its mountinfo, readable by all, tells a chrooted one.
 * - proot before 5.2 (no --kill-on-exit; Debian 12 ships 5.1): proot runs
 *   until its last tracee exits, so one daemon keeps the step from ending,
 *   and proot exits with the status of the tracee that exited normally last
 *   (`cmd & exit 3` succeeded). Once proot's direct child, the step's main
 *   process, is gone, every process proot still traces is killed, which is
 *   what --kill-on-exit does: a tracee killed by a signal leaves proot's
 *   exit status as it was.
 *
 * Synchronous /proc reads: a scan of a container's processes is a few
 * hundred small reads, repeated only while it finds some to kill; a
 * liveness check reads one or two files.
 */
import { readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** The fields of /proc/PID/stat after the command (which may hold spaces and parentheses). */
interface ProcStat {
  state: string;
  ppid: number;
  /** Clock ticks since boot: with it a pid reused later is a different process. */
  startTime: string;
}

function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const [state, ppid, startTime] = [fields[0], Number(fields[1]), fields[19]];
  return state === undefined || startTime === undefined || !Number.isInteger(ppid) ? undefined : { state, ppid, startTime };
}

function allPids(): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) if (/^\d+$/.test(name)) pids.push(Number(name));
  return pids;
}

function kill(pid: number): boolean {
  try {
    process.kill(pid, 'SIGKILL');
    return true;
  } catch {
    return false; // gone already
  }
}

/** A zombie has exited (its parent has not collected it yet); X is a task being torn down. */
function isRunning(st: ProcStat | undefined): st is ProcStat {
  return st !== undefined && st.state !== 'Z' && st.state !== 'X';
}

/** Each process's start time, by pid. */
export type ProcessTable = ReadonlyMap<number, string>;

/** The processes there are now, to tell later which ones a step started. */
export function processTable(): ProcessTable {
  const table = new Map<number, string>();
  for (const pid of allPids()) {
    const st = procStat(pid);
    if (st !== undefined) table.set(pid, st.startTime);
  }
  return table;
}

/**
 * Whether `pid` is chrooted into a directory that holds no mount point:
 * its mountinfo, which the kernel shows relative to the process's root and
 * to anyone (unlike /proc/PID/root, which needs CAP_SYS_PTRACE for another
 * user's process), lists no mount at all.
 */
function chrootedWithoutMounts(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/mountinfo`, 'latin1') === '';
  } catch {
    return false;
  }
}

export interface LeftoverOptions {
  /** Give up after this long (a process in uninterruptible sleep dies when its I/O ends). Default 5 s. */
  deadlineMs?: number;
  /**
   * The processes that ran before the step, when the step was the only one
   * in a chroot of this build: a process started since, chrooted where no
   * mount is, whose root hoist may not read (another user's daemon, and
   * hoist without CAP_SYS_PTRACE, as under Docker's default capabilities),
   * is the step's too. Without it such a process is left alone.
   */
  soleStepSince?: ProcessTable;
}

/**
 * SIGKILLs every process whose root directory is `rootfs` or below it, and
 * scans again until none is left: one forked between a scan and its kill is
 * found by the next. Returns how many it killed.
 */
export async function killProcessesRootedIn(rootfs: string, opts: LeftoverOptions = {}): Promise<number> {
  let real: string;
  let dev: number;
  let ino: number;
  try {
    real = realpathSync(rootfs);
    ({ dev, ino } = statSync(real));
  } catch {
    return 0;
  }
  const deadline = Date.now() + (opts.deadlineMs ?? 5000);
  let killed = 0;
  for (;;) {
    let found = 0;
    for (const pid of allPids()) {
      if (pid === process.pid) continue;
      let root: string;
      let st: { dev: number; ino: number };
      try {
        // The link names the root as this process sees it; the inode says it is that directory (the
        // same path in another mount namespace is another directory), or one on the same filesystem.
        root = readlinkSync(`/proc/${pid}/root`);
        st = statSync(`/proc/${pid}/root`);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const before = opts.soleStepSince;
        if ((code === 'EACCES' || code === 'EPERM') && before !== undefined) {
          const started = procStat(pid)?.startTime;
          if (started !== undefined && before.get(pid) !== started && chrootedWithoutMounts(pid)) {
            found += 1;
            if (kill(pid)) killed += 1;
          }
        }
        continue; // gone, a zombie, or not ours to read
      }
      if (st.dev !== dev) continue;
      if (st.ino !== ino && !root.startsWith(`${real}/`)) continue;
      found += 1;
      if (kill(pid)) killed += 1;
    }
    if (found === 0 || Date.now() >= deadline) return killed;
    await sleep(20);
  }
}

/** What the running step's watcher offers spawnStep. */
export interface StepWatch {
  /** Before the step's process group is killed on abort. */
  beforeAbort(): void;
  /** The step's outer process has exited: stop watching. */
  stop(): void;
}

/** The running direct children of `pid`. */
function runningChildren(pid: number): number[] {
  let listed: number[];
  try {
    listed = readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').split(' ').filter((s) => s !== '').map(Number);
  } catch {
    // A kernel without CONFIG_PROC_CHILDREN: the slow way.
    listed = allPids().filter((p) => procStat(p)?.ppid === pid);
  }
  return listed.filter((p) => isRunning(procStat(p)));
}

function tracerOf(pid: number): number | undefined {
  try {
    const m = /^TracerPid:\s*(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Kills the processes `tracer` traces, except its direct children: the
 * step's main process is proot's only child, and may be traced already
 * before a check has seen it run. Adds the pids it signalled to `killed`.
 */
function killTraceesOf(tracer: number, killed: Set<number>): void {
  for (const pid of allPids()) {
    if (pid === tracer || tracerOf(pid) !== tracer) continue;
    if (procStat(pid)?.ppid === tracer) continue;
    if (kill(pid)) killed.add(pid);
  }
}

export interface TraceeWatch extends StepWatch {
  /** The pids the watch killed: proot reports their deaths too, and they are not the step's. */
  readonly killed: ReadonlySet<number>;
}

/**
 * Watches proot's tracees. On abort it kills them before proot: killed
 * alone, proot would detach them, and a daemon among them would run on.
 * With `reapAfterMain` (a proot without --kill-on-exit) it also checks
 * every `intervalMs` whether proot's child, the step's main process, still
 * runs, and once it does not, kills what proot still traces (the module
 * comment says why). A tracee that exits normally before that check still
 * sets proot's exit status. Costs one or two small reads per check.
 */
export function watchTracees(prootPid: number, opts: { reapAfterMain: boolean; intervalMs?: number }): TraceeWatch {
  const killed = new Set<number>();
  const timer = opts.reapAfterMain
    ? setInterval(() => {
        try {
          if (runningChildren(prootPid).length === 0) killTraceesOf(prootPid, killed);
        } catch {
          // /proc unreadable: the step then runs as it would without the watch
        }
      }, opts.intervalMs ?? 50)
    : undefined;
  return {
    killed,
    beforeAbort: () => {
      try {
        for (const child of runningChildren(prootPid)) if (kill(child)) killed.add(child);
        killTraceesOf(prootPid, killed);
      } catch {
        // as above
      }
    },
    stop: () => clearInterval(timer),
  };
}
