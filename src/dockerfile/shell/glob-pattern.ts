import { EOF, RuneScanner, runeToString } from './rune-scanner.js';

/**
 * The shell patterns of `${VAR#pat}`, `${VAR%pat}` and `${VAR/pat/repl}`, as
 * BuildKit understands them: `*` is any run of characters, `?` any one
 * character, and `\` escapes `*`, `?` and `\`. A `\` before `}` or `/` only
 * kept the lexer from ending the `${}` early and is dropped. Everything else,
 * `[` and `]` included, is literal: BuildKit has no bracket expressions.
 *
 * They are matched with the results of Go's RE2 on the regexp BuildKit
 * builds (`.` there never matches a newline, so neither do our wildcards),
 * but by a scan that keeps every live position of the pattern at once, so
 * that `*a*a*a*a*a*a*a*a*ab` takes linear time where a backtracking RegExp
 * took exponential time.
 */

/** A pattern BuildKit refuses; the message is BuildKit's. */
export class PatternSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PatternSyntaxError';
  }
}

const BACKSLASH = 0x5c;
const STAR = 0x2a;
const QUESTION = 0x3f;
const CLOSE_BRACE = 0x7d;
const SLASH = 0x2f;

type Token = { kind: 'star' } | { kind: 'any' } | { kind: 'literal'; ch: string };

/** Where a pattern matched: a UTF-16 offset into the value, and the matched text. */
export interface ShellMatch {
  index: number;
  text: string;
}

export class ShellPattern {
  readonly #tokens: readonly Token[];
  readonly #greedy: boolean;
  readonly #anchored: boolean;

  constructor(tokens: readonly Token[], greedy: boolean, anchored: boolean) {
    this.#tokens = tokens;
    this.#greedy = greedy;
    this.#anchored = anchored;
  }

  /**
   * The leftmost match starting at or after the UTF-16 offset `from` (at
   * `from` exactly when anchored), ending as late as possible when greedy
   * and as early as possible when not: what RE2 finds for `.*` or `.*?`
   * between fixed-width pieces.
   */
  exec(value: string, from = 0): ShellMatch | null {
    const tokens = this.#tokens;
    const done = tokens.length;
    // Positions are UTF-16 offsets into `value`, stepped one code point at a
    // time; nothing is copied, so a search that stops early costs only what it read.
    // threads[i]: the earliest start of a thread waiting at token i, -1 for none; [done] has matched.
    const none = (): number[] => new Array<number>(done + 1).fill(-1);
    const add = (into: number[], token: number, start: number): void => {
      for (let i = token; i <= done; i++) {
        const existing = into[i] as number;
        if (existing !== -1 && existing <= start) return;
        into[i] = start;
        if (tokens[i]?.kind !== 'star') return;
      }
    };
    let threads = none();
    let best: { start: number; end: number } | null = null;
    for (let at = from; ; ) {
      if (best === null && (!this.#anchored || at === from)) add(threads, 0, at);
      const matched = threads[done] as number;
      if (matched !== -1 && (best === null || matched < best.start || (matched === best.start && this.#greedy))) {
        best = { start: matched, end: at };
      }
      if (at >= value.length) break;
      const width = (value.codePointAt(at) ?? 0) > 0xffff ? 2 : 1;
      const ch = value.slice(at, at + width);
      const next = none();
      let alive = false;
      tokens.forEach((token, i) => {
        const start = threads[i] as number;
        // Once a match is known, only a thread that started earlier (or as early, for a longer match) can beat it.
        if (start === -1 || (best !== null && (start > best.start || (start === best.start && !this.#greedy)))) return;
        if (token.kind === 'literal' ? ch !== token.ch : ch === '\n') return;
        add(next, token.kind === 'star' ? i : i + 1, start);
        alive = true;
      });
      threads = next;
      at += width;
      if (!alive && (best !== null || this.#anchored)) break;
    }
    if (best === null) return null;
    return { index: best.start, text: value.slice(best.start, best.end) };
  }
}

/**
 * Compiles `pattern`. `greedy` makes `*` match the longest run instead of the
 * shortest; `anchored` makes the match start at the beginning of the value.
 */
export function compileShellPattern(pattern: string, greedy: boolean, anchored: boolean): ShellPattern {
  const scanner = new RuneScanner(pattern);
  const tokens: Token[] = [];
  for (let ch = scanner.next(); ch !== EOF; ch = scanner.next()) {
    if (ch === STAR) {
      tokens.push({ kind: 'star' });
    } else if (ch === QUESTION) {
      tokens.push({ kind: 'any' });
    } else if (ch === BACKSLASH) {
      const escaped = scanner.peek();
      if (escaped === CLOSE_BRACE || escaped === SLASH) continue;
      scanner.next();
      if (escaped !== STAR && escaped !== QUESTION && escaped !== BACKSLASH) {
        throw new PatternSyntaxError(`invalid escape '\\${runeToString(escaped)}'`);
      }
      tokens.push({ kind: 'literal', ch: String.fromCodePoint(escaped) });
    } else {
      tokens.push({ kind: 'literal', ch: String.fromCodePoint(ch) });
    }
  }
  return new ShellPattern(tokens, greedy, anchored);
}

/**
 * Reverses a pattern character by character but keeps each `\x` escape in
 * order (`a\*c` becomes `c\*a`), so that a suffix match can run as a prefix
 * match on the reversed value. A lone trailing `\` is treated as a plain
 * character, as BuildKit does.
 */
export function reversePattern(pattern: string): string {
  const runes = Array.from(pattern);
  const out: string[] = [];
  for (let i = 0; i < runes.length; ) {
    const ch = runes[i] ?? '';
    const next = runes[i + 1];
    if (ch === '\\' && next !== undefined) {
      out.push(next, ch);
      i += 2;
    } else {
      out.push(ch);
      i += 1;
    }
  }
  return out.reverse().join('');
}
