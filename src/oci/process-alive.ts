import { readlinkSync } from 'node:fs';

/** Signal 0 checks that a process exists; EPERM means it exists under another user. */
export function processIsRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** This process's PID namespace as a number (`pid:[4026531836]`), or `x` where /proc does not say. */
export function pidNamespace(): string {
  try {
    return /^pid:\[(\d+)\]$/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? 'x';
  } catch {
    return 'x';
  }
}

/**
 * Who this process is, for a file that several processes judge (a lock, a
 * use record): `<pid>@<pid namespace>`. Caches are shared between
 * containers (a CI volume), and a pid means nothing outside its namespace.
 */
export function ownerTag(): string {
  return `${process.pid}@${pidNamespace()}`;
}

/**
 * Whether the owner named by `tag` runs: `running`, `gone`, or `unknown`
 * for a process of another PID namespace (or of one /proc does not name),
 * which only its age can judge. A bare pid (written before tags had a
 * namespace) is judged here, as it always was.
 */
export function ownerState(tag: string, isRunning: (pid: number) => boolean = processIsRunning): 'running' | 'gone' | 'unknown' {
  const m = /^(\d+)(?:@(\d+|x))?$/.exec(tag);
  if (m === null) return 'unknown';
  const pid = Number(m[1]);
  if (m[2] !== undefined && (m[2] === 'x' || m[2] !== pidNamespace())) return 'unknown';
  if (pid === process.pid) return 'running';
  return isRunning(pid) ? 'running' : 'gone';
}
