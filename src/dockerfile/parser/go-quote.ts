/**
 * Go's `strconv.Quote`, which BuildKit's AST dump uses: printable runes stay
 * as they are (UTF-8 text like `♥` included), the rest become Go escapes.
 */
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;
const LONE_SURROGATE = /^[\uD800-\uDFFF]$/;

const NAMED_ESCAPES: ReadonlyMap<number, string> = new Map([
  [0x07, '\\a'],
  [0x08, '\\b'],
  [0x0c, '\\f'],
  [0x0a, '\\n'],
  [0x0d, '\\r'],
  [0x09, '\\t'],
  [0x0b, '\\v'],
]);

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

export function quoteRune(ch: string): string {
  if (ch === '"' || ch === '\\') return `\\${ch}`;
  if (ch === ' ' || PRINTABLE.test(ch)) return ch;
  // A lone surrogate cannot come from UTF-8 input; Go would see U+FFFD.
  if (LONE_SURROGATE.test(ch)) return '\uFFFD';
  const cp = ch.codePointAt(0) ?? 0;
  const named = NAMED_ESCAPES.get(cp);
  if (named) return named;
  if (cp < 0x20 || cp === 0x7f) return `\\x${hex(cp, 2)}`;
  if (cp < 0x10000) return `\\u${hex(cp, 4)}`;
  return `\\U${hex(cp, 8)}`;
}

export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) out += quoteRune(ch);
  return `${out}"`;
}
