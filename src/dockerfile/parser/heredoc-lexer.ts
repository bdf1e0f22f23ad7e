/**
 * The slice of BuildKit's shell lexer (`shell.Lex.ProcessWords` with an empty
 * environment and `SkipUnsetEnv`) that heredoc detection relies on: word
 * splitting with quotes, escapes, `$var`/`${...}` kept verbatim, and `<<`
 * swallowing the blanks after it. Its errors matter too: a line that does not
 * lex yields no heredocs, and a terminator word that does not lex is an error.
 * The escape character is always `\` here, as in BuildKit.
 */
import { isGoSpace } from './chars.js';

export class HeredocLexError extends Error {}

export interface HeredocLexOptions {
  /** Keep quote characters in the words. */
  rawQuotes: boolean;
  /** Keep escape characters in the words. */
  rawEscapes: boolean;
}

const ESCAPE = '\\';
const SPECIAL_PARAMS = new Set(['@', '*', '#', '?', '-', '$', '!', '0']);
const DIGIT = /^\p{Nd}$/u;
const NAME_CHAR = /^[\p{L}\p{Nd}_]$/u;
// Go's string(rune(-1)), which BuildKit appends when a modifier hits the end.
const EOF_RUNE = '\uFFFD';

interface WordState {
  words: string[];
  inWord: boolean;
}

/** Splits `text` into shell words. Throws HeredocLexError where BuildKit's lexer fails. */
export function lexHeredocWords(text: string, options: HeredocLexOptions): string[] {
  return new Lexer(text, options).run();
}

class Lexer {
  private pos = 0;
  private readonly chars: string[];
  // BuildKit shares one word buffer between nested `${...}` scans, so a nested
  // scan discards the partial word around it; keeping it on the instance
  // reproduces that.
  private buffer = '';
  private rawEscapes: boolean;

  constructor(
    text: string,
    private readonly options: HeredocLexOptions,
  ) {
    this.chars = Array.from(text);
    this.rawEscapes = options.rawEscapes;
  }

  run(): string[] {
    return this.scanUntil(undefined, this.options.rawEscapes).words;
  }

  private peek(): string | undefined {
    return this.chars[this.pos];
  }

  private next(): string | undefined {
    const ch = this.chars[this.pos];
    if (ch !== undefined) this.pos++;
    return ch;
  }

  private scanUntil(stop: string | undefined, rawEscapes: boolean): { result: string; words: string[] } {
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      return this.scanBody(stop);
    } finally {
      this.rawEscapes = saved;
    }
  }

  private scanBody(stop: string | undefined): { result: string; words: string[] } {
    let result = '';
    this.buffer = '';
    const state: WordState = { words: [], inWord: false };
    for (let ch = this.peek(); ch !== undefined; ch = this.peek()) {
      if (stop !== undefined && ch === stop) {
        this.next();
        return { result, words: this.flush(state) };
      }
      if (ch === '$' || ch === '<' || ch === "'" || ch === '"') {
        const piece =
          ch === '$' ? this.dollar() : ch === '<' ? this.possibleHeredoc() : ch === "'" ? this.singleQuoted() : this.doubleQuoted();
        result += piece;
        if (ch === '$') for (const c of piece) this.addChar(state, c);
        else this.addRaw(state, piece);
        continue;
      }
      let c = this.next() as string;
      if (c === ESCAPE) {
        if (this.rawEscapes) {
          this.addRaw(state, c);
          result += c;
        }
        const escaped = this.next();
        if (escaped === undefined) break;
        c = escaped;
        this.addRaw(state, c);
      } else {
        this.addChar(state, c);
      }
      result += c;
    }
    if (stop !== undefined) throw new HeredocLexError(`unexpected end of statement while looking for matching ${stop}`);
    return { result, words: this.flush(state) };
  }

  private addChar(state: WordState, ch: string): void {
    if (!isGoSpace(ch)) {
      this.addRaw(state, ch);
    } else if (state.inWord && this.buffer.length > 0) {
      state.words.push(this.buffer);
      this.buffer = '';
      state.inWord = false;
    }
  }

  private addRaw(state: WordState, text: string): void {
    this.buffer += text;
    state.inWord = true;
  }

  private flush(state: WordState): string[] {
    if (this.buffer.length > 0) {
      state.words.push(this.buffer);
      this.buffer = '';
      state.inWord = false;
    }
    return state.words;
  }

  private singleQuoted(): string {
    const open = this.next() as string;
    let result = this.options.rawQuotes ? open : '';
    for (;;) {
      const ch = this.next();
      if (ch === undefined) throw new HeredocLexError('unexpected end of statement while looking for matching single-quote');
      if (ch === "'") return this.options.rawQuotes ? result + ch : result;
      result += ch;
    }
  }

  private doubleQuoted(): string {
    const open = this.next() as string;
    let result = this.options.rawQuotes ? open : '';
    for (;;) {
      const peeked = this.peek();
      if (peeked === undefined) throw new HeredocLexError('unexpected end of statement while looking for matching double-quote');
      if (peeked === '"') {
        this.next();
        return this.options.rawQuotes ? result + peeked : result;
      }
      if (peeked === '$') {
        result += this.dollar();
        continue;
      }
      let ch = this.next() as string;
      if (ch === ESCAPE) {
        if (this.rawEscapes) result += ch;
        const after = this.peek();
        if (after === undefined) continue;
        if (after === '"' || after === '$' || after === ESCAPE) ch = this.next() as string;
      }
      result += ch;
    }
  }

  /** `$name`, `${name}` and `${name<op>word}`, all unset, so kept as written. */
  private dollar(): string {
    this.next();
    if (this.peek() !== '{') {
      const name = this.name();
      return name === '' ? '$' : `$${name}`;
    }
    this.next();
    const lead = this.peek();
    if (lead === undefined) throw new HeredocLexError("syntax error: missing '}'");
    if (lead === '{' || lead === '}' || lead === ':') throw new HeredocLexError('syntax error: bad substitution');
    const name = this.name();
    let op = this.next();
    let ops = op ?? EOF_RUNE;
    if (op === '}') return `\${${name}}`;
    let nullIsUnset = false;
    if (op === ':') {
      nullIsUnset = true;
      op = this.next();
      ops += op ?? EOF_RUNE;
    }
    if (nullIsUnset || op === '+' || op === '-' || op === '?' || op === '#' || op === '%') {
      const rawEscapes = op === '#' || op === '%';
      if (nullIsUnset && rawEscapes) throw new HeredocLexError(`unsupported modifier (${ops}) in substitution`);
      const word = this.scanUntil('}', rawEscapes).result;
      return `\${${name}${ops}${word}}`;
    }
    if (op === '/') {
      if (this.peek() === '/') this.next();
      const pattern = this.scanUntil('/', true).result;
      const replacement = this.scanUntil('}', true).result;
      return `\${${name}/${pattern}/${replacement}}`;
    }
    throw new HeredocLexError(`unsupported modifier (${ops}) in substitution`);
  }

  private name(): string {
    let name = '';
    for (let ch = this.peek(); ch !== undefined; ch = this.peek()) {
      if (name === '' && DIGIT.test(ch)) {
        while (this.peek() !== undefined && DIGIT.test(this.peek() as string)) name += this.next();
        return name;
      }
      if (name === '' && SPECIAL_PARAMS.has(ch)) return this.next() as string;
      if (!NAME_CHAR.test(ch)) break;
      name += this.next();
    }
    return name;
  }

  private possibleHeredoc(): string {
    this.next();
    if (this.peek() !== '<') return '<';
    this.next();
    let blanks = '';
    for (let ch = this.peek(); ch === ' ' || ch === '\t' || ch === '\r'; ch = this.peek()) blanks += this.next();
    return `<<${blanks}`;
  }
}
