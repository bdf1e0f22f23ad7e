import { readdirSync, readFileSync } from 'node:fs';

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
