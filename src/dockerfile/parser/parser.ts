import type { Warning } from '../../errors.js';
import { DockerfileError } from '../errors.js';
import { DirectiveScanner } from './directives.js';
import { HeredocLexError, heredocsFromLine, readHeredocBodies, type HeredocMarker } from './heredoc.js';
import { buildInstruction, canContainHeredoc } from './instruction-node.js';
import { ArgumentError } from './line-parsers.js';
import { readLogicalLine, type LogicalLine } from './logical-lines.js';
import { LineCursor, splitPhysicalLines } from './source-lines.js';
import type { InstructionNode, ParsedDockerfile } from './types.js';

function located(err: unknown, code: string, file: string, line: number, endLine: number): unknown {
  if (err instanceof ArgumentError || err instanceof HeredocLexError) {
    return new DockerfileError(code, err.message, { file, line, endLine }, { cause: err });
  }
  return err;
}

function emptyContinuationWarning(logical: LogicalLine, file: string): Warning {
  return {
    code: 'NoEmptyContinuation',
    message: `Empty continuation line found in: ${logical.text}`,
    location: { file, line: logical.startLine, endLine: logical.endLine },
  };
}

/** Reads the heredoc bodies that follow `node`'s line, if it has any. */
function attachHeredocs(node: InstructionNode, logical: LogicalLine, cursor: LineCursor, file: string): void {
  if (!canContainHeredoc(node) || !logical.text.includes('<<')) return;
  let markers: HeredocMarker[];
  try {
    markers = heredocsFromLine(logical.text);
  } catch (err) {
    throw located(err, 'BAD_HEREDOC', file, logical.startLine, logical.endLine);
  }
  if (markers.length === 0) return;
  const heredocs = readHeredocBodies(cursor, markers);
  if (!heredocs) {
    throw new DockerfileError('UNTERMINATED_HEREDOC', 'unterminated heredoc', {
      file,
      line: logical.startLine,
      endLine: cursor.lineNumber,
    });
  }
  node.heredocs = heredocs;
  // BuildKit keeps them on the ONBUILD node only; the trigger gets them too, for its parser.
  if (node.onbuild) node.onbuild.heredocs = heredocs;
}

/**
 * Parses Dockerfile text into BuildKit's AST: one node per instruction, with
 * parser directives, continuations, JSON/shell forms, flags, heredocs and
 * line ranges. Throws DockerfileError (located `FILE:LINE`) where BuildKit's
 * parser fails; empty continuation lines come back as warnings.
 */
export function parseDockerfile(text: string, file: string): ParsedDockerfile {
  const cursor = new LineCursor(splitPhysicalLines(text), file);
  const directives = new DirectiveScanner();
  const instructions: InstructionNode[] = [];
  const warnings: Warning[] = [];

  for (let logical = readLogicalLine(cursor, directives, file); logical; logical = readLogicalLine(cursor, directives, file)) {
    if (logical.hasEmptyContinuationLine) warnings.push(emptyContinuationWarning(logical, file));
    let node: InstructionNode;
    try {
      node = buildInstruction(logical.text, directives.escapeToken, logical.startLine, logical.endLine);
    } catch (err) {
      throw located(err, 'DOCKERFILE_SYNTAX', file, logical.startLine, logical.endLine);
    }
    attachHeredocs(node, logical, cursor, file);
    node.endLine = cursor.lineNumber;
    if (node.onbuild) node.onbuild.endLine = cursor.lineNumber;
    instructions.push(node);
  }

  const first = instructions[0];
  const last = instructions[instructions.length - 1];
  if (!first || !last) {
    throw new DockerfileError('EMPTY_DOCKERFILE', 'file with no instructions', { file, line: Math.max(1, cursor.lineNumber) }, {
      hint: 'a Dockerfile needs at least a FROM instruction',
    });
  }
  return {
    file,
    instructions,
    directives: directives.result(),
    warnings,
    startLine: first.startLine,
    endLine: last.endLine,
  };
}
