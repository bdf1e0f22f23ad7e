import { ASCII_BLANKS, isGoSpace, trimGoSpace } from './chars.js';

export interface SplitCommand {
  /** The instruction word as written. */
  command: string;
  flags: string[];
  /** The rest of the line after the flags, trimmed. */
  rest: string;
}

/** BuildKit's splitCommand: the instruction word, its `--flags`, and the rest. */
export function splitCommand(line: string): SplitCommand {
  const trimmed = trimGoSpace(line);
  const gap = ASCII_BLANKS.exec(trimmed);
  if (!gap) return { command: trimmed, flags: [], rest: '' };
  const { flags, rest } = extractFlags(trimmed.slice(gap.index + gap[0].length));
  return { command: trimmed.slice(0, gap.index), flags, rest: trimGoSpace(rest) };
}

type Phase = 'spaces' | 'word' | 'quote';

/**
 * Takes leading words that start with `--` as flags. Quotes group and are
 * removed, `\` escapes the next character, and a bare `--` ends the flags and
 * is dropped. Returns the flags and the remaining text.
 */
export function extractFlags(line: string): { flags: string[]; rest: string } {
  const flags: string[] = [];
  let phase: Phase = 'spaces';
  let word = '';
  let quote = '';
  let blankOK = false;
  for (let pos = 0; pos <= line.length; pos++) {
    const atEnd = pos === line.length;
    let ch = line[pos] ?? '';
    if (phase === 'spaces') {
      if (atEnd) break;
      if (isGoSpace(ch)) continue;
      if (ch !== '-' || line[pos + 1] !== '-') return { flags, rest: line.slice(pos) };
      phase = 'word';
    }
    if (atEnd) {
      if (word !== '--' && (blankOK || word.length > 0)) flags.push(word);
      break;
    }
    if (phase === 'word') {
      if (isGoSpace(ch)) {
        phase = 'spaces';
        if (word === '--') return { flags, rest: line.slice(pos) };
        if (blankOK || word.length > 0) flags.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
        phase = 'quote';
        continue;
      }
    } else if (ch === quote) {
      phase = 'word';
      continue;
    }
    if (ch === '\\') {
      if (pos + 1 === line.length) {
        phase = 'word';
        continue;
      }
      pos++;
      ch = line[pos] ?? '';
    }
    word += ch;
  }
  return { flags, rest: '' };
}
