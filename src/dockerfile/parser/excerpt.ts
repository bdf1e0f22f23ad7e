/**
 * What an error may show of a line it could not parse: a file read by
 * mistake (a token, a key) must not be printed whole, and its bytes must not
 * reach a terminal as escape sequences. So: at most a short prefix, with
 * anything unprintable spelled as a Go escape, and "…" where it was cut.
 */
import { goQuote, quoteRune } from './go-quote.js';

/** Characters of a line an error message may echo. */
export const MAX_EXCERPT_CHARS = 40;

export function excerpt(text: string, max = MAX_EXCERPT_CHARS): string {
  const chars = Array.from(text);
  let out = '';
  for (const ch of chars.slice(0, max)) out += ch === '"' || ch === '\\' ? ch : quoteRune(ch);
  return chars.length > max ? `${out}…` : out;
}

/** excerpt as a Go-quoted string: `"prefix"…`. */
export function quotedExcerpt(text: string, max = MAX_EXCERPT_CHARS): string {
  const chars = Array.from(text);
  const quoted = goQuote(chars.slice(0, max).join(''));
  return chars.length > max ? `${quoted}…` : quoted;
}
