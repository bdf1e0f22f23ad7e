import { DockerfileError } from '../errors.js';
import { trimLeftGoSpace } from './chars.js';
import { DirectiveError, type DirectiveScanner } from './directives.js';
import { trimNewline, type LineCursor } from './source-lines.js';

/** One instruction's text with its continuations joined. */
export interface LogicalLine {
  text: string;
  startLine: number;
  endLine: number;
  /** A blank line sat inside the continuation (BuildKit warns about it). */
  hasEmptyContinuationLine: boolean;
}

/**
 * BuildKit's line-continuation rule: the escape character, then only blanks,
 * at the end of the line, and not itself escaped (`foo \\` does not continue).
 * The escape and the blanks after it are removed.
 */
export function trimContinuation(line: string, escape: string): { text: string; continues: boolean } {
  const body = line.replace(/[ \t]*$/, '');
  if (!body.endsWith(escape)) return { text: line, continues: false };
  const before = body.slice(0, -escape.length);
  if (before.length > 0 && before.endsWith(escape)) return { text: line, continues: false };
  return { text: before, continues: true };
}

function isComment(line: string): boolean {
  return trimLeftGoSpace(line).startsWith('#');
}

/**
 * Reads the next instruction's logical line: skips blank and comment lines,
 * feeds the parser directives, and joins continuation lines (kept with their
 * leading whitespace; blank and comment lines inside are skipped). Returns
 * undefined at the end of the file.
 */
export function readLogicalLine(cursor: LineCursor, directives: DirectiveScanner, file: string): LogicalLine | undefined {
  for (;;) {
    const raw = cursor.next();
    if (raw === undefined) return undefined;
    let first = trimLeftGoSpace(trimNewline(raw));
    try {
      directives.scan(first);
    } catch (err) {
      if (!(err instanceof DirectiveError)) throw err;
      throw new DockerfileError('BAD_DIRECTIVE', err.message, { file, line: cursor.lineNumber });
    }
    if (first.startsWith('#')) first = '';
    const startLine = cursor.lineNumber;
    let { text, continues } = trimContinuation(first, directives.escapeToken);
    if (!continues && text === '') continue;

    let hasEmptyContinuationLine = false;
    while (continues) {
      const next = cursor.next();
      if (next === undefined) break;
      if (isComment(next)) continue;
      const body = trimNewline(next);
      if (trimLeftGoSpace(body) === '') {
        hasEmptyContinuationLine = true;
        continue;
      }
      const piece = trimContinuation(body, directives.escapeToken);
      text += piece.text;
      continues = piece.continues;
    }
    return { text, startLine, endLine: cursor.lineNumber, hasEmptyContinuationLine };
  }
}
