/**
 * Character tests as Go defines them. BuildKit's parser uses `unicode.IsSpace`
 * in some places and the regexp class `[\t\v\f\r ]` in others; JavaScript's
 * `\s` matches neither exactly (it includes U+FEFF and excludes U+0085).
 */
const GO_SPACE = /^\p{White_Space}$/u;

/** Go's `unicode.IsSpace` for one code point (a one- or two-unit string). */
export function isGoSpace(ch: string): boolean {
  return GO_SPACE.test(ch);
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
