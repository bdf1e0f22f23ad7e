import { excerpt } from './excerpt.js';
import { HeredocLexError, lexHeredocWords } from './heredoc-lexer.js';
import { trimNewline, type LineCursor } from './source-lines.js';
import type { Heredoc } from './types.js';

export { HeredocLexError } from './heredoc-lexer.js';

/** A heredoc marker found on an instruction line; the body is read later. */
export type HeredocMarker = Omit<Heredoc, 'content'>;

// BuildKit's reHeredoc with Go's classes spelled out: \d is ASCII, \s is [\t\n\f\r ].
const HEREDOC_WORD = /^([0-9]*)<<(-?)[\t\n\f\r ]*([^<]*)$/;

function countQuotes(word: string): number {
  let n = 0;
  for (const ch of word) if (ch === "'" || ch === '"') n++;
  return n;
}

/**
 * BuildKit's ParseHeredoc for one shell word: `<<EOF`, `<<-'EOF'`, `3<<EOF`,
 * `<< EOF`... Returns null when the word is not a heredoc, and throws
 * HeredocLexError for a malformed terminator (`<<'EOF`). The body is expanded
 * unless part of the terminator was quoted, found by lexing it with and
 * without raw quotes and comparing how many quote characters survive.
 */
export function parseHeredocWord(word: string): HeredocMarker | null {
  const match = HEREDOC_WORD.exec(word);
  if (!match) return null;
  const rest = match[3] ?? '';
  if (rest === '') return null;
  const words = lexHeredocWords(rest, { rawQuotes: false, rawEscapes: false });
  const name = words[0];
  if (words.length !== 1 || name === undefined) return null;
  const raw = lexHeredocWords(rest, { rawQuotes: true, rawEscapes: false });
  const rawName = raw[0];
  if (raw.length !== 1 || rawName === undefined) {
    throw new HeredocLexError(`internal lexing of heredoc produced inconsistent results: ${excerpt(rest)}`);
  }
  return {
    name,
    expand: countQuotes(name) === countQuotes(rawName),
    chomp: match[2] === '-',
    fileDescriptor: match[1] ? Number(match[1]) : 0,
  };
}

/**
 * The heredoc markers on one instruction line, in order. A line the shell
 * lexer cannot split (an unclosed quote) has none, as in BuildKit; a
 * malformed marker word throws HeredocLexError.
 */
export function heredocsFromLine(line: string): HeredocMarker[] {
  let words: string[];
  try {
    words = lexHeredocWords(line, { rawQuotes: true, rawEscapes: true });
  } catch (err) {
    if (err instanceof HeredocLexError) return [];
    throw err;
  }
  const markers: HeredocMarker[] = [];
  for (const word of words) {
    const marker = parseHeredocWord(word);
    if (marker) markers.push(marker);
  }
  return markers;
}

/** Strips the leading tabs of every line, what `<<-` asks for. */
export function chompHeredocContent(content: string): string {
  // Not /^\t+/gm: JavaScript's multiline ^ also matches after \r, Go's only after \n.
  return content.replace(/(^|\n)\t+/g, '$1');
}

/**
 * Reads the bodies of `markers` from the following lines, one after the
 * other. Each body ends at a line equal to its own terminator (leading tabs
 * ignored for `<<-`) and is kept raw, line endings included. Returns
 * undefined when the file ends first.
 */
export function readHeredocBodies(cursor: LineCursor, markers: readonly HeredocMarker[]): Heredoc[] | undefined {
  const heredocs: Heredoc[] = [];
  for (const marker of markers) {
    let content = '';
    let terminated = false;
    for (let line = cursor.next(); line !== undefined; line = cursor.next()) {
      let candidate = trimNewline(line);
      if (marker.chomp) candidate = candidate.replace(/^\t+/, '');
      if (candidate === marker.name) {
        terminated = true;
        break;
      }
      content += line;
    }
    if (!terminated) return undefined;
    heredocs.push({ ...marker, content });
  }
  return heredocs;
}
