import type { CommandLine } from '../../dockerfile/instructions/types.js';

export const DEFAULT_SHELL: readonly string[] = ['/bin/sh', '-c'];

/** Exec form as is; shell form wrapped in the stage's SHELL (default /bin/sh -c). */
export function toArgv(command: CommandLine, shell: readonly string[] | undefined): string[] {
  return command.form === 'exec' ? [...command.argv] : [...(shell ?? DEFAULT_SHELL), command.command];
}
