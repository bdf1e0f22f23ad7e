import { ExpansionFailure } from './errors.js';

/**
 * Bounds on what one word may expand to. BuildKit's Go lexer has no explicit
 * ones, but Go's growable stacks and a daemon's memory hide what would crash
 * a Node.js process: `${a:-${a:-...}}` recursing past the stack, or
 * `ARG a=$a$a` doubling a value until memory runs out. Both are far beyond
 * anything a real Dockerfile writes.
 */

/** How deeply `${...}` may nest inside another's word. */
export const MAX_NESTING = 256;

/** The longest expanded word, in UTF-16 code units (1 MiB of ASCII). */
export const MAX_WORD_LENGTH = 1024 * 1024;

export const WORD_TOO_LONG_HINT = `the expansion limit is ${MAX_WORD_LENGTH} characters per word; check for a variable that references itself (ARG a=$a$a) or a replacement that multiplies its input`;

/** Throws once `text`, a word being built, has grown past MAX_WORD_LENGTH. */
export function checkWordLength(text: string): void {
  if (text.length > MAX_WORD_LENGTH) {
    throw new ExpansionFailure(`expanded word is longer than ${MAX_WORD_LENGTH} characters`, WORD_TOO_LONG_HINT);
  }
}
