import { parseInstructionArgs } from './line-parsers.js';
import { splitCommand } from './split-command.js';
import type { InstructionNode } from './types.js';

const HEREDOC_KEYWORDS: ReadonlySet<string> = new Set(['run', 'copy', 'add']);

/**
 * Builds one instruction from its logical line (BuildKit's newNodeFromLine).
 * ONBUILD wraps the instruction that follows it. Throws ArgumentError when
 * the dispatch table rejects the arguments.
 */
export function buildInstruction(line: string, escape: string, startLine: number, endLine: number): InstructionNode {
  const { command, flags, rest } = splitCommand(line);
  const keyword = command.toLowerCase();
  const base = { keyword, flags, original: line, heredocs: [], startLine, endLine };
  if (keyword !== 'onbuild') return { ...base, ...parseInstructionArgs(keyword, rest, escape) };
  const node: InstructionNode = { ...base, args: [], json: false };
  if (rest !== '') node.onbuild = buildInstruction(rest, escape, startLine, endLine);
  return node;
}

/** RUN, COPY and ADD in shell form (or ONBUILD of one) may carry heredocs. */
export function canContainHeredoc(node: InstructionNode): boolean {
  const target = node.keyword === 'onbuild' && node.onbuild ? node.onbuild : node;
  return HEREDOC_KEYWORDS.has(target.keyword) && !target.json;
}
