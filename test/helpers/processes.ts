import { readdirSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';

/** The command line (NUL-separated, as /proc has it) of every process on the host; one that ends meanwhile is left out. */
export function commandLines(): string[] {
  const lines: string[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^[0-9]+$/.test(name))) {
    try {
      lines.push(readFileSync(`/proc/${pid}/cmdline`, 'latin1'));
    } catch {
      // gone meanwhile
    }
  }
  return lines;
}

/** How many processes have exactly `argv` as their command line. */
export function processesRunning(argv: string[]): number {
  const wanted = `${argv.join('\0')}\0`;
  return commandLines().filter((cmd) => cmd === wanted).length;
}

/** The nice value of each thread of process `pid` (field 19 of /proc/PID/task/TID/stat), by thread id; none once it has ended. */
export async function threadNices(pid: number | 'self' = 'self'): Promise<Map<number, number>> {
  const nices = new Map<number, number>();
  for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [] as string[])) {
    const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8').catch(() => undefined);
    // After the command name in parentheses, which may hold spaces: field 19 is the 17th.
    if (stat !== undefined) nices.set(Number(tid), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]));
  }
  return nices;
}
