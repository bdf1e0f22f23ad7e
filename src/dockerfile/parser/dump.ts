import { trimGoSpace } from './chars.js';
import { goQuote } from './go-quote.js';
import type { InstructionNode, ParsedDockerfile } from './types.js';

function dumpInstruction(node: InstructionNode): string {
  let out = node.keyword.toLowerCase();
  if (node.flags.length > 0) out += ` [${node.flags.map(goQuote).join(' ')}]`;
  if (node.onbuild) out += ` (${dumpInstruction(node.onbuild)})`;
  for (const arg of node.args) out += ` ${goQuote(arg)}`;
  return trimGoSpace(out);
}

/**
 * BuildKit's `Node.Dump()` of the AST root plus the final newline its golden
 * files carry: one `(keyword ["--flag"] "arg"...)` line per instruction, each
 * ending in `\n`; ONBUILD nests its instruction unquoted.
 */
export function dumpAst(parsed: ParsedDockerfile): string {
  return parsed.instructions.map((node) => `(${dumpInstruction(node)})\n`).join('');
}
