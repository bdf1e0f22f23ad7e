/**
 * The argv of a RUN, apart from the handler that runs it: the build cache
 * keys a step by it without loading the runners.
 */
import { DockerfileError } from '../../dockerfile/errors.js';
import type { RunInstr } from '../../dockerfile/instructions/types.js';
import { toArgv } from './command-line.js';

function notYet(instr: RunInstr, what: string): DockerfileError {
  return new DockerfileError('RUN_UNSUPPORTED', `${what} is not supported by this version of hoist yet`, instr.location, {
    hint: 'write the step without it, or build this Dockerfile with BuildKit for now',
  });
}

/**
 * RUN with heredocs, as BuildKit runs them: a command that is one heredoc
 * and nothing else runs its body through SHELL; otherwise the command is
 * put back together with its bodies and the shell reads the heredocs.
 */
function heredocArgv(instr: RunInstr, shell: readonly string[] | undefined): string[] | undefined {
  if (instr.heredocs.length === 0) return undefined;
  if (instr.command.form !== 'shell') throw notYet(instr, 'RUN in exec form with a heredoc');
  const first = instr.heredocs[0] as RunInstr['heredocs'][number];
  if (instr.heredocs.length === 1 && /^<<-?\s*\S+$/.test(instr.command.command.trim())) {
    if (first.content.startsWith('#!')) throw notYet(instr, 'RUN with a heredoc script that starts with #!');
    return toArgv({ form: 'shell', command: first.content }, shell);
  }
  const full = instr.heredocs.reduce((text, h) => `${text}\n${h.content}${h.name}`, instr.command.command);
  return toArgv({ form: 'shell', command: full }, shell);
}

/** The argv a RUN runs: SHELL applied, heredocs included (the build cache keys the step by it). */
export function runArgv(instr: RunInstr, shell: readonly string[] | undefined): string[] {
  return heredocArgv(instr, shell) ?? toArgv(instr.command, shell);
}
