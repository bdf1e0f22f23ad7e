import { ExpansionFailure, ShellExpansionError } from './errors.js';
import { type ExpanderSettings, WordExpander } from './word-expander.js';

/** The switches of BuildKit's `shell.Lex`; all default to false. */
export interface LexOptions {
  /** Keep quote characters in the result (they still group and protect). */
  rawQuotes?: boolean;
  /** Keep escape characters in front of what they escape. */
  rawEscapes?: boolean;
  /** Treat `'` and `"` as ordinary characters. */
  skipProcessQuotes?: boolean;
  /** Leave references to unset variables as written (`$X`, `${X:-d}`). */
  skipUnsetEnv?: boolean;
}

export interface WordResult {
  result: string;
  /** Names referenced and set. */
  matched: Set<string>;
  /** Names referenced but unset. */
  unmatched: Set<string>;
}

export interface WordsResult {
  words: string[];
  matched: Set<string>;
  unmatched: Set<string>;
}

/**
 * Dockerfile word expansion with BuildKit's semantics
 * (`frontend/dockerfile/shell`): quotes, the Dockerfile's escape character,
 * `$VAR` and `${VAR...}` with the operators BuildKit supports.
 *
 * `env` maps set variables to their values ('' is set but empty); a name
 * missing from it is unset. Names are case-sensitive, as on Unix. Errors are
 * ShellExpansionError. Stateless between calls.
 */
export class ShellLex {
  readonly #settings: ExpanderSettings;

  constructor(escapeToken: '\\' | '`' = '\\', options: LexOptions = {}) {
    if (escapeToken !== '\\' && escapeToken !== '`') {
      throw new TypeError(`escape token must be \\ or \`, not ${JSON.stringify(escapeToken)}`);
    }
    this.#settings = {
      escapeToken: escapeToken.charCodeAt(0),
      rawQuotes: options.rawQuotes ?? false,
      rawEscapes: options.rawEscapes ?? false,
      skipProcessQuotes: options.skipProcessQuotes ?? false,
      skipUnsetEnv: options.skipUnsetEnv ?? false,
    };
  }

  /** Expands `word` to a single string; whitespace is not split. */
  processWord(word: string, env: ReadonlyMap<string, string>): string {
    return this.processWordWithMatches(word, env).result;
  }

  processWordWithMatches(word: string, env: ReadonlyMap<string, string>): WordResult {
    const { expander, result } = this.#expand(word, env);
    return { result: result.result, matched: expander.matched, unmatched: expander.unmatched };
  }

  /**
   * Expands `word` and splits it on unquoted whitespace, including whitespace
   * that comes from unquoted `$VAR` expansions. Empty words are dropped.
   */
  processWords(word: string, env: ReadonlyMap<string, string>): string[] {
    return this.processWordsWithMatches(word, env).words;
  }

  processWordsWithMatches(word: string, env: ReadonlyMap<string, string>): WordsResult {
    const { expander, result } = this.#expand(word, env);
    return { words: result.words, matched: expander.matched, unmatched: expander.unmatched };
  }

  #expand(word: string, env: ReadonlyMap<string, string>) {
    const expander = new WordExpander(word, env, this.#settings);
    try {
      return { expander, result: expander.run() };
    } catch (err) {
      if (err instanceof ExpansionFailure) throw new ShellExpansionError(word, err.message, err.hint);
      throw err;
    }
  }
}
