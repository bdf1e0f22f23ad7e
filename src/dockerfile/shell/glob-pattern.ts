import { EOF, RuneScanner, runeToString } from './rune-scanner.js';

/**
 * The shell patterns of `${VAR#pat}`, `${VAR%pat}` and `${VAR/pat/repl}`, as
 * BuildKit understands them: `*` is any run of characters, `?` any one
 * character, and `\` escapes `*`, `?` and `\`. A `\` before `}` or `/` only
 * kept the lexer from ending the `${}` early and is dropped. Everything else,
 * `[` and `]` included, is literal: BuildKit has no bracket expressions.
 *
 * Patterns become regular expressions with the same leftmost-first
 * semantics as Go's RE2 (`.` there never matches a newline, so neither do
 * our wildcards).
 */

/** A pattern BuildKit refuses; the message is BuildKit's. */
export class PatternSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PatternSyntaxError';
  }
}

const BACKSLASH = 0x5c;
const STAR = 0x2a;
const QUESTION = 0x3f;
const CLOSE_BRACE = 0x7d;
const SLASH = 0x2f;

const ANY_CHAR = '[^\\n]';
const REGEXP_SYNTAX = new Set(Array.from('^$\\.*+?()[]{}|/', (ch) => ch.codePointAt(0) ?? 0));

function literal(ch: number): string {
  const text = String.fromCodePoint(ch);
  return REGEXP_SYNTAX.has(ch) ? `\\${text}` : text;
}

/**
 * Compiles `pattern`. `greedy` makes `*` match the longest run instead of the
 * shortest; `anchored` makes the match start at the beginning of the value.
 */
export function compileShellPattern(pattern: string, greedy: boolean, anchored: boolean): RegExp {
  const scanner = new RuneScanner(pattern);
  let source = anchored ? '^' : '';
  for (let ch = scanner.next(); ch !== EOF; ch = scanner.next()) {
    if (ch === STAR) {
      source += greedy ? `${ANY_CHAR}*` : `${ANY_CHAR}*?`;
    } else if (ch === QUESTION) {
      source += ANY_CHAR;
    } else if (ch === BACKSLASH) {
      const escaped = scanner.peek();
      if (escaped === CLOSE_BRACE || escaped === SLASH) continue;
      scanner.next();
      if (escaped !== STAR && escaped !== QUESTION && escaped !== BACKSLASH) {
        throw new PatternSyntaxError(`invalid escape '\\${runeToString(escaped)}'`);
      }
      source += literal(escaped);
    } else {
      source += literal(ch);
    }
  }
  return new RegExp(source, 'u');
}

/**
 * Reverses a pattern character by character but keeps each `\x` escape in
 * order (`a\*c` becomes `c\*a`), so that a suffix match can run as a prefix
 * match on the reversed value. A lone trailing `\` is treated as a plain
 * character, as BuildKit does.
 */
export function reversePattern(pattern: string): string {
  const runes = Array.from(pattern);
  const out: string[] = [];
  for (let i = 0; i < runes.length; ) {
    const ch = runes[i] ?? '';
    const next = runes[i + 1];
    if (ch === '\\' && next !== undefined) {
      out.push(next, ch);
      i += 2;
    } else {
      out.push(ch);
      i += 1;
    }
  }
  return out.reverse().join('');
}
