import { ExpansionFailure } from './errors.js';
import { type BraceContext, expandBraced } from './parameter-expansion.js';
import { checkWordLength, MAX_NESTING } from './limits.js';
import { readParameterName } from './parameter-name.js';
import { EOF, RuneScanner, runeToString } from './rune-scanner.js';
import { WordCollector } from './word-collector.js';

/** How one ShellLex expands words; fixed for its lifetime. */
export interface ExpanderSettings {
  readonly escapeToken: number;
  readonly rawQuotes: boolean;
  readonly rawEscapes: boolean;
  readonly skipProcessQuotes: boolean;
  readonly skipUnsetEnv: boolean;
}

const DOLLAR = 0x24;
const SINGLE_QUOTE = 0x27;
const DOUBLE_QUOTE = 0x22;
const OPEN_BRACE = 0x7b;

/**
 * The expansion of one word: quotes, escapes and `$` references, producing
 * the expanded text, its split into words, and which names were looked up.
 * One instance per call, so a ShellLex can be shared freely.
 */
export class WordExpander implements BraceContext {
  readonly scanner: RuneScanner;
  readonly skipUnsetEnv: boolean;
  readonly matched = new Set<string>();
  readonly unmatched = new Set<string>();
  readonly #env: ReadonlyMap<string, string>;
  readonly #settings: ExpanderSettings;
  /** How many `${` are open around the current position. */
  #nesting = 0;

  constructor(word: string, env: ReadonlyMap<string, string>, settings: ExpanderSettings) {
    this.scanner = new RuneScanner(word);
    this.skipUnsetEnv = settings.skipUnsetEnv;
    this.#env = env;
    this.#settings = settings;
  }

  /** Expands the whole word. Throws ExpansionFailure. */
  run(): { result: string; words: string[] } {
    const words = new WordCollector();
    const result = this.#expand(EOF, this.#settings.rawEscapes, words);
    return { result, words: words.finish() };
  }

  lookup(name: string): string | undefined {
    const value = this.#env.get(name);
    (value === undefined ? this.unmatched : this.matched).add(name);
    return value;
  }

  expandUntil(stop: number, rawEscapes: boolean): string {
    return this.#expand(stop, rawEscapes, undefined);
  }

  /**
   * Expands until `stop` (consumed) or, for EOF, the end of input. With
   * `rawEscapes` an escape character is kept in front of what it escapes
   * (pattern operators need that to tell `\*` from `*`).
   */
  #expand(stop: number, rawEscapes: boolean, words: WordCollector | undefined): string {
    const { scanner } = this;
    const { escapeToken, skipProcessQuotes } = this.#settings;
    let result = '';
    for (let ch = scanner.peek(); ch !== EOF; ch = scanner.peek()) {
      if (stop !== EOF && ch === stop) {
        scanner.next();
        return result;
      }
      if (ch === DOLLAR) {
        const value = this.#expandDollar();
        result += value;
        checkWordLength(result);
        words?.addSplittable(value);
        continue;
      }
      if (!skipProcessQuotes && (ch === SINGLE_QUOTE || ch === DOUBLE_QUOTE)) {
        const quoted = ch === SINGLE_QUOTE ? this.#singleQuoted() : this.#doubleQuoted(rawEscapes);
        result += quoted;
        checkWordLength(result);
        words?.addRaw(quoted);
        continue;
      }
      scanner.next();
      if (ch !== escapeToken) {
        result += runeToString(ch);
        words?.addSplittable(runeToString(ch));
        continue;
      }
      if (rawEscapes) {
        result += runeToString(ch);
        words?.addRaw(runeToString(ch));
      }
      // An escape at the very end escapes nothing and is dropped.
      const escaped = scanner.next();
      if (escaped === EOF) break;
      result += runeToString(escaped);
      words?.addRaw(runeToString(escaped));
    }
    if (stop !== EOF) {
      throw new ExpansionFailure(`unexpected end of statement while looking for matching ${runeToString(stop)}`);
    }
    return result;
  }

  /** Everything up to the next `'` is literal; `'` itself cannot be escaped. */
  #singleQuoted(): string {
    const { scanner } = this;
    const quote = this.#settings.rawQuotes ? "'" : '';
    scanner.next();
    let result = quote;
    for (;;) {
      const ch = scanner.next();
      if (ch === EOF) throw new ExpansionFailure('unexpected end of statement while looking for matching single-quote');
      if (ch === SINGLE_QUOTE) return result + quote;
      result += runeToString(ch);
    }
  }

  /**
   * Literal up to the next unescaped `"`, except `$` expansions. The escape
   * character only escapes `"`, `$` and itself; before anything else it stays.
   */
  #doubleQuoted(rawEscapes: boolean): string {
    const { scanner } = this;
    const escapeToken = this.#settings.escapeToken;
    const quote = this.#settings.rawQuotes ? '"' : '';
    scanner.next();
    let result = quote;
    for (;;) {
      const peeked = scanner.peek();
      if (peeked === EOF) throw new ExpansionFailure('unexpected end of statement while looking for matching double-quote');
      if (peeked === DOUBLE_QUOTE) {
        scanner.next();
        return result + quote;
      }
      if (peeked === DOLLAR) {
        result += this.#expandDollar();
        checkWordLength(result);
        continue;
      }
      let ch = scanner.next();
      if (ch === escapeToken) {
        if (rawEscapes) result += runeToString(ch);
        const escaped = scanner.peek();
        if (escaped === EOF) continue;
        if (escaped === DOUBLE_QUOTE || escaped === DOLLAR || escaped === escapeToken) ch = scanner.next();
      }
      result += runeToString(ch);
    }
  }

  /** `$name`, `${...}`, or a lone `$` kept as is. */
  #expandDollar(): string {
    const { scanner } = this;
    scanner.next();
    if (scanner.peek() === OPEN_BRACE) {
      scanner.next();
      // Each level recurses a few frames deep; past the limit the stack would overflow.
      if (this.#nesting >= MAX_NESTING) {
        throw new ExpansionFailure(`\${...} nested more than ${MAX_NESTING} levels deep`, 'write the default values without nesting ${...} so deeply');
      }
      this.#nesting++;
      try {
        return expandBraced(this);
      } finally {
        this.#nesting--;
      }
    }
    const name = readParameterName(scanner);
    if (name === '') return '$';
    const value = this.lookup(name);
    if (value === undefined && this.skipUnsetEnv) return `$${name}`;
    return value ?? '';
  }
}
