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

  constructor(word: string, reason: string) {
    super('SHELL_EXPANSION', `failed to process ${goQuote(word)}: ${reason}`);
    this.word = word;
    this.reason = reason;
  }
}

/**
 * Thrown inside the lexer and turned into a ShellExpansionError at the
 * public boundary, where the whole word is known.
 */
export class ExpansionFailure extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'ExpansionFailure';
  }
}
