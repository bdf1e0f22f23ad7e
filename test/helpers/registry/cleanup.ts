/**
 * Last-resort cleanup when the test process exits without calling stop():
 * kill child processes and remove temp dirs, synchronously (an 'exit'
 * listener cannot await). One listener for the process; each running
 * registry adds its own cleanup and removes it on stop().
 */
import { rmSync } from 'node:fs';

const pending = new Set<() => void>();
let installed = false;

function runAll(): void {
  for (const fn of pending) {
    try {
      fn();
    } catch {
      // best effort
    }
  }
  pending.clear();
}

/** Register `fn` to run at process exit; returns a function that unregisters it. */
export function onProcessExit(fn: () => void): () => void {
  if (!installed) {
    installed = true;
    process.on('exit', runAll);
  }
  pending.add(fn);
  return () => {
    pending.delete(fn);
  };
}

/** An exit-time cleanup for a child pid and a temp dir. */
export function killAndRemoveSync(pid: number | undefined, dir: string | undefined): void {
  if (pid !== undefined) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
}
