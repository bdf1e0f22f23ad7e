/**
 * Character tests as Go defines them. BuildKit's parser uses `unicode.IsSpace`
 * in some places and the regexp class `[\t\v\f\r ]` in others; JavaScript's
 * `\s` matches neither exactly (it includes U+FEFF and excludes U+0085).
 */
const GO_SPACE = /^\p{White_Space}$/u;

/** Go's `unicode.IsSpace` for a code point; ASCII, the common case, without a regular expression. */
export function isGoSpaceCode(cp: number): boolean {
  if (cp < 0x80) return cp === 0x20 || (cp >= 0x09 && cp <= 0x0d);
  return GO_SPACE.test(String.fromCodePoint(cp));
}

/** Go's `unicode.IsSpace` for one code point (a one- or two-unit string). */
export function isGoSpace(ch: string): boolean {
  return ch !== '' && isGoSpaceCode(ch.codePointAt(0) as number);
}

/** Go's `strings.TrimLeftFunc(s, unicode.IsSpace)`. */
export function trimLeftGoSpace(s: string): string {
  return s.replace(/^\p{White_Space}+/u, '');
}

/** Go's `strings.TrimSpace`. */
export function trimGoSpace(s: string): string {
  return s.replace(/^\p{White_Space}+|\p{White_Space}+$/gu, '');
}

/** BuildKit's `reWhitespace` (`[\t\v\f\r ]+`), used to split words and commands. */
export const ASCII_BLANKS = /[\t\v\f\r ]+/;
