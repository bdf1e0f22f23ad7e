import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { StepWatch } from './leftover-processes.js';
import type { RunIo, RunResult } from './process-spec.js';

export interface SpawnStepOptions {
  /**
   * The host's sh. The step starts through it (`exec`, so the pid is the
   * command's) with Docker's umask, 0022: with hoist's own (a CI job's
   * 0077, a user's 0002) what the step creates would get other modes, and
   * the image would depend on who built it.
   */
  sh: string;
  command: string;
  args: readonly string[];
  env: Readonly<Record<string, string>>;
  io: RunIo;
  signal?: AbortSignal;
  /**
   * After the main process exits, kill what is left of its process group.
   * Runners without a PID namespace need it: a daemon the step left behind
   * would otherwise keep the output pipes open, and run on after the step.
   */
  killGroupOnExit?: boolean;
  /** Started with the outer process, stopped when it exits (proot's tracee reaper). */
  watch?: (pid: number) => StepWatch;
  /**
   * After the main process exits (or is killed on abort), kills what the
   * step left outside its process group; the step ends when it is done.
   */
  afterExit?: () => Promise<unknown>;
}

/** How long the output of a step whose main process has exited is still read. */
const OUTPUT_GRACE_MS = 2000;

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // the group is gone already
  }
}

/**
 * Spawn one step's outer process in its own process group, stream its output
 * to `io` as it comes, and report how it ended. Abort kills the whole group
 * (the runners put the step's tree under it, or in a PID namespace that dies
 * with it) and rejects with the abort reason once the processes are gone.
 */
export function spawnStep(opts: SpawnStepOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(opts.signal.reason);
      return;
    }
    const child = spawn(opts.sh, ['-c', 'umask 0022 && exec "$@"', 'hoist-step', opts.command, ...opts.args], {
      env: { ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const watch = child.pid !== undefined ? opts.watch?.(child.pid) : undefined;
    let aborted = false;
    const onAbort = (): void => {
      aborted = true;
      watch?.beforeAbort();
      killGroup(child.pid);
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdout.on('data', (c: Buffer) => opts.io.stdout(c));
    child.stderr.on('data', (c: Buffer) => opts.io.stderr(c));
    let spawnError: Error | undefined;
    child.on('error', (err) => {
      spawnError = err;
      if (child.pid === undefined) {
        watch?.stop();
        opts.signal?.removeEventListener('abort', onAbort);
        reject(err); // it never started, so no 'close' follows
      }
    });
    let ended: { code: number | null; sig: NodeJS.Signals | null } | undefined;
    let leftovers: Promise<unknown> = Promise.resolve();
    let stopReading: NodeJS.Timeout | undefined;
    let closed = false;
    child.on('exit', (code, sig) => {
      ended = { code, sig };
      watch?.stop();
      if (opts.killGroupOnExit) killGroup(child.pid);
      if (opts.afterExit !== undefined) leftovers = opts.afterExit().catch(() => undefined);
      // A process hoist could not find (or kill) may still hold the output pipes: the step is over all the same.
      void leftovers.then(() => {
        if (closed) return;
        stopReading = setTimeout(() => {
          child.stdout.destroy();
          child.stderr.destroy();
        }, OUTPUT_GRACE_MS);
      });
    });
    child.on('close', (code, sig) => {
      closed = true;
      clearTimeout(stopReading);
      opts.signal?.removeEventListener('abort', onAbort);
      void leftovers.then(() => {
        const end = ended ?? { code, sig };
        if (aborted) reject(opts.signal?.reason);
        else if (spawnError !== undefined) reject(spawnError);
        else if (end.sig !== null) resolve({ exitCode: 128 + (constants.signals[end.sig] ?? 0), signal: end.sig });
        else resolve({ exitCode: end.code ?? 255 });
      });
    });
  });
}
