/** What `peek` and `next` return once the input is used up. */
export const EOF = -1;

/**
 * Reads a string one Unicode code point at a time, like Go's text/scanner
 * `Peek`/`Next` (which BuildKit's lexer is built on): a byte order mark at the
 * very start is skipped, and nothing else is transformed.
 */
export class RuneScanner {
  readonly #runes: number[];
  #pos: number;

  constructor(text: string) {
    this.#runes = Array.from(text, (ch) => ch.codePointAt(0) ?? 0);
    this.#pos = this.#runes[0] === 0xfeff ? 1 : 0;
  }

  peek(): number {
    return this.#runes[this.#pos] ?? EOF;
  }

  next(): number {
    const ch = this.peek();
    if (ch !== EOF) this.#pos++;
    return ch;
  }
}

/**
 * Go's `string(rune)`: EOF (or any invalid code point) becomes U+FFFD. Error
 * messages built from a character that turned out to be EOF show it that way.
 */
export function runeToString(ch: number): string {
  return ch < 0 || ch > 0x10ffff ? '\uFFFD' : String.fromCodePoint(ch);
}
