/**
 * Character classes as Go's `unicode` package defines them, which is what
 * BuildKit's lexer uses; JavaScript's `\s` and `\d` differ (U+FEFF, U+0085,
 * non-ASCII digits), so the Unicode properties are spelled out. ASCII, by far
 * the common case, is answered without a regular expression.
 */
import { isGoSpaceCode } from '../parser/chars.js';

const LETTER = /^\p{L}$/u;
const DIGIT = /^\p{Nd}$/u;

function test(re: RegExp, ch: number): boolean {
  return ch >= 0 && re.test(String.fromCodePoint(ch));
}

/** Go's `unicode.IsSpace`. */
export function isSpace(ch: number): boolean {
  return ch >= 0 && isGoSpaceCode(ch);
}

/** Go's `unicode.IsLetter`. */
export function isLetter(ch: number): boolean {
  if (ch < 0x80) return (ch >= 0x41 && ch <= 0x5a) || (ch >= 0x61 && ch <= 0x7a);
  return test(LETTER, ch);
}

/** Go's `unicode.IsDigit` (any decimal digit, not only ASCII). */
export function isDigit(ch: number): boolean {
  if (ch < 0x80) return ch >= 0x30 && ch <= 0x39;
  return test(DIGIT, ch);
}

/** A character that may continue a variable name: letter, digit or `_`. */
export function isNameChar(ch: number): boolean {
  return ch === 0x5f || isLetter(ch) || isDigit(ch);
}
