import { isSpace } from './char-classes.js';

/**
 * Splits the expanded text into words as it is produced, for ProcessWords.
 * Unquoted text (literal or from a `$` expansion) breaks on whitespace;
 * quoted and escaped text never does.
 *
 * Like BuildKit, a quoted empty string (`""`) marks a word as started but
 * does not by itself produce a word: only non-empty words are kept.
 */
export class WordCollector {
  readonly #words: string[] = [];
  #current = '';
  #inWord = false;

  /** Unquoted text: whitespace ends the current word and is dropped. */
  addSplittable(text: string): void {
    // Runs between spaces are added whole: a value can be a megabyte long.
    // Every space is in the BMP, so a UTF-16 unit that is one never splits a pair.
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      if (!isSpace(text.charCodeAt(i))) continue;
      if (i > start) this.addRaw(text.slice(start, i));
      start = i + 1;
      if (this.#inWord && this.#current !== '') {
        this.#words.push(this.#current);
        this.#current = '';
        this.#inWord = false;
      }
    }
    if (start < text.length) this.addRaw(text.slice(start));
  }

  /** Quoted or escaped text: kept as is, whitespace included. */
  addRaw(text: string): void {
    this.#current += text;
    this.#inWord = true;
  }

  finish(): string[] {
    if (this.#current !== '') {
      this.#words.push(this.#current);
      this.#current = '';
      this.#inWord = false;
    }
    return this.#words;
  }
}
