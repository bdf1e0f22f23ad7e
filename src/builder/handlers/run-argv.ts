/**
 * The argv of a RUN, apart from the handler that runs it: the build cache
 * keys a step by it without loading the runners.
 */
import { DockerfileError } from '../../dockerfile/errors.js';
import { chompHeredocContent } from '../../dockerfile/parser/index.js';
import type { RunInstr } from '../../dockerfile/instructions/types.js';
import { toArgv } from './command-line.js';
import { sha256Digest } from '../../oci/digest.js';
import type { MountIdentity } from '../cache/step-key.js';

function notYet(instr: RunInstr, what: string): DockerfileError {
  return new DockerfileError('RUN_UNSUPPORTED', `${what} is not supported by this version of hoist yet`, instr.location, {
    hint: 'write the step without it, or build this Dockerfile with BuildKit for now',
  });
}

/** Where BuildKit mounts the file of a heredoc script that starts with `#!` (read-only), and the runner exec's it. */
export const HEREDOC_SCRIPT_DIR = '/dev/pipes';

/** A RUN whose command is one heredoc and nothing else: its name, its body as written, and the body run (tabs stripped for `<<-`). */
function soleHeredoc(instr: RunInstr): { name: string; raw: string; content: string } | undefined {
  if (instr.heredocs.length !== 1 || instr.command.form !== 'shell' || !/^<<-?\s*\S+$/.test(instr.command.command.trim())) return undefined;
  const doc = instr.heredocs[0] as RunInstr['heredocs'][number];
  return { name: doc.name, raw: doc.content, content: doc.chomp ? chompHeredocContent(doc.content) : doc.content };
}

/**
 * The script a RUN runs as a file, as BuildKit does: one heredoc whose body
 * starts with `#!` as written (before `<<-` strips tabs), written with mode
 * 0755 into HEREDOC_SCRIPT_DIR so that the kernel runs its interpreter. The
 * handler mounts it; the argv names it.
 */
export function heredocScript(instr: RunInstr): { name: string; content: string } | undefined {
  const doc = soleHeredoc(instr);
  return doc !== undefined && doc.raw.startsWith('#!') ? { name: doc.name, content: doc.content } : undefined;
}

/** The cache key's view of that file: a read-only bind of its name and body (the argv only names it). */
export function heredocScriptIdentity(instr: RunInstr): MountIdentity[] {
  const script = heredocScript(instr);
  if (script === undefined) return [];
  return [{ type: 'bind', target: HEREDOC_SCRIPT_DIR, source: sha256Digest(`${script.name}\0${script.content}`), readonly: true }];
}

/**
 * RUN with heredocs, as BuildKit runs them: a command that is one heredoc
 * and nothing else runs its body through SHELL (or, when the body starts
 * with `#!`, the shell runs the body as a file); otherwise the command is
 * put back together with its bodies and the shell reads the heredocs.
 */
function heredocArgv(instr: RunInstr, shell: readonly string[] | undefined): string[] | undefined {
  if (instr.heredocs.length === 0) return undefined;
  if (instr.command.form !== 'shell') throw notYet(instr, 'RUN in exec form with a heredoc');
  const sole = soleHeredoc(instr);
  if (sole !== undefined) {
    const command = sole.raw.startsWith('#!') ? `${HEREDOC_SCRIPT_DIR}/${sole.name}` : sole.content;
    return toArgv({ form: 'shell', command }, shell);
  }
  const full = instr.heredocs.reduce((text, h) => `${text}\n${h.content}${h.name}`, instr.command.command);
  return toArgv({ form: 'shell', command: full }, shell);
}

/** The argv a RUN runs: SHELL applied, heredocs included (the build cache keys the step by it). */
export function runArgv(instr: RunInstr, shell: readonly string[] | undefined): string[] {
  return heredocArgv(instr, shell) ?? toArgv(instr.command, shell);
}
