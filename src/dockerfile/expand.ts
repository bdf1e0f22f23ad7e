import { DockerfileError } from './errors.js';
import type { ExpansionBudget } from './expansion-budget.js';
import type { Instruction, KeyValue } from './instructions/types.js';
import { ShellExpansionError, ShellLex } from './shell/index.js';

export type Env = ReadonlyMap<string, string>;

/** Heredoc bodies keep their quotes (BuildKit's ExpandRaw lexer). ShellLex keeps no state between calls. */
const HEREDOC_LEX = new ShellLex('\\', { skipProcessQuotes: true });

export interface Expanded<T> {
  instr: T;
}

/**
 * Expands the words of one instruction, BuildKit-style: every word sees the
 * environment as it was before the instruction (so `ENV a=1 b=$a` gives b the
 * old a). RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK, MAINTAINER and ONBUILD
 * are left to the shell or to a later build; `--from` never takes variables
 * (the planner refuses them); ARG defaults are expanded by the planner.
 * With a `budget`, every expanded word is charged to it.
 */
export function expandInstruction<T extends Instruction>(instr: T, env: Env, lex: ShellLex, budget?: ExpansionBudget): Expanded<T> {
  const located = <R>(run: () => R): R => locateExpansion(instr, run);
  const charged = (w: string): string => {
    budget?.charge(w.length, instr);
    return w;
  };
  const word = (w: string): string => charged(located(() => lex.processWord(w, env)));
  const words = (w: string): string[] => located(() => lex.processWords(w, env)).map(charged);
  const heredocWord = (w: string): string => charged(located(() => HEREDOC_LEX.processWord(w, env)));
  const opt = (w: string | undefined): string | undefined => (w === undefined ? undefined : word(w));
  const pairs = (kvs: KeyValue[]): KeyValue[] => kvs.map((kv) => ({ key: word(kv.key), value: word(kv.value) }));

  const i = instr as Instruction;
  let out: Instruction;
  switch (i.kind) {
    case 'FROM':
      out = { ...i, image: word(i.image), platform: opt(i.platform) };
      break;
    case 'RUN':
      // --network and --security are taken literally, as BuildKit does.
      out = { ...i, mounts: i.mounts.map(word) };
      break;
    case 'COPY':
    case 'ADD': {
      const common = {
        sources: i.sources.map(word),
        dest: word(i.dest),
        heredocs: i.heredocs.map((h) => (h.expand ? { ...h, content: heredocWord(h.content) } : h)),
        chown: opt(i.chown),
        chmod: opt(i.chmod),
        excludes: i.excludes.map(word),
      };
      out = i.kind === 'ADD' ? { ...i, ...common, checksum: opt(i.checksum) } : { ...i, ...common };
      break;
    }
    case 'ENV':
    case 'LABEL':
      out = { ...i, pairs: pairs(i.pairs) };
      break;
    case 'EXPOSE':
      out = { ...i, ports: i.ports.flatMap(words) };
      break;
    case 'VOLUME':
      out = { ...i, paths: i.paths.map(word) };
      break;
    case 'USER':
      out = { ...i, user: word(i.user) };
      break;
    case 'WORKDIR':
      out = { ...i, path: word(i.path) };
      break;
    case 'STOPSIGNAL':
      out = { ...i, signal: word(i.signal) };
      break;
    case 'ARG':
      // Only defaults are expanded, and only when no build arg replaces them (the planner decides).
      out = i;
      break;
    case 'CMD':
    case 'ENTRYPOINT':
    case 'SHELL':
    case 'HEALTHCHECK':
    case 'MAINTAINER':
    case 'ONBUILD':
      out = i;
      break;
  }
  return { instr: out as T };
}

/** Run an expansion for `instr`, turning a shell expansion error into a located DockerfileError. */
function locateExpansion<R>(instr: Instruction, run: () => R): R {
  try {
    return run();
  } catch (err) {
    if (err instanceof ShellExpansionError) {
      throw new DockerfileError('BAD_EXPANSION', `${instr.kind}: ${err.message}`, instr.location, { cause: err, ...(err.hint === undefined ? {} : { hint: err.hint }) });
    }
    throw err;
  }
}

/** Expand one word on behalf of `instr` (ARG defaults); errors are located at it. */
export function expandWord(word: string, env: Env, lex: ShellLex, instr: Instruction, budget?: ExpansionBudget): string {
  const expanded = locateExpansion(instr, () => lex.processWord(word, env));
  budget?.charge(expanded.length, instr);
  return expanded;
}
