import { HoistError } from '../../errors.js';
import { goQuote } from '../parser/go-quote.js';

/**
 * A word could not be expanded: bad `${}` syntax, an unterminated quote, a
 * `${VAR?message}` on an unset variable, a bad pattern. The message matches
 * BuildKit's (`failed to process "word": reason`); callers that know the
 * Dockerfile location add it.
 */
export class ShellExpansionError extends HoistError {
  /** The word as given to the lexer. */
  readonly word: string;
  /** BuildKit's reason, without the `failed to process` prefix. */
  readonly reason: string;

  constructor(word: string, reason: string, hint?: string) {
    super('SHELL_EXPANSION', `failed to process ${goQuote(shortened(word))}: ${reason}`, hint === undefined ? {} : { hint });
    this.word = word;
    this.reason = reason;
  }
}

/** A hostile word can be megabytes long; the message quotes its start. */
const QUOTED_WORD_MAX = 200;

function shortened(word: string): string {
  if (word.length <= QUOTED_WORD_MAX) return word;
  // Never cut a surrogate pair in half.
  const end = /[\uD800-\uDBFF]/.test(word.charAt(QUOTED_WORD_MAX - 1)) ? QUOTED_WORD_MAX - 1 : QUOTED_WORD_MAX;
  return `${word.slice(0, end)}...`;
}

/**
 * Thrown inside the lexer and turned into a ShellExpansionError at the
 * public boundary, where the whole word is known.
 */
export class ExpansionFailure extends Error {
  readonly hint: string | undefined;

  constructor(reason: string, hint?: string) {
    super(reason);
    this.name = 'ExpansionFailure';
    this.hint = hint;
  }
}
