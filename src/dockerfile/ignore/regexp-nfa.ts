/**
 * A linear-time matcher for the regexps go-regexp.ts parses, as Go's own
 * regexp package (RE2) is: the regexp becomes a Thompson NFA and the text
 * is scanned once, keeping the set of states every thread could be in (a
 * Pike VM without captures). A JavaScript RegExp backtracks instead, so a
 * pattern like `*a*a*a*a*a*a*a*a*ab` took minutes on a 200-character path.
 * Work is at most (text length) x (program size); the state sets are cached
 * as DFA states, which makes the common case faster than RegExp was.
 */

/** A regexp as a tree. `cls` is JavaScript `v`-mode class text that matches exactly one code point. */
export type RegexpNode =
  | { readonly t: 'char'; readonly cls: string }
  | { readonly t: 'assert'; readonly kind: 'begin' | 'end' | 'word' | 'notWord' }
  | { readonly t: 'cat'; readonly items: readonly RegexpNode[] }
  | { readonly t: 'alt'; readonly options: readonly RegexpNode[] }
  | { readonly t: 'repeat'; readonly op: '*' | '+' | '?'; readonly node: RegexpNode };

type AssertKind = Extract<RegexpNode, { t: 'assert' }>['kind'];

type Inst =
  | { op: 'char'; test: (ch: string) => boolean; next: number }
  | { op: 'split'; x: number; y: number }
  | { op: 'jmp'; x: number }
  | { op: 'assert'; kind: AssertKind; next: number }
  | { op: 'match' };

const LITERAL = /^\\u\{([0-9a-f]+)\}$/;
const NOT_LITERAL = /^\[\^\\u\{([0-9a-f]+)\}\]$/;

/** A code point test for class text; literals and `[^x]` (the `[^/]` of every `*`) skip RegExp. */
function charTest(cls: string, cache: Map<string, (ch: string) => boolean>): (ch: string) => boolean {
  const cached = cache.get(cls);
  if (cached) return cached;
  const codePoint = (hex: string | undefined): string => String.fromCodePoint(parseInt(hex as string, 16));
  const literal = LITERAL.exec(cls);
  const notLiteral = NOT_LITERAL.exec(cls);
  let test: (ch: string) => boolean;
  if (literal) {
    const want = codePoint(literal[1]);
    test = (ch) => ch === want;
  } else if (notLiteral) {
    const unwanted = codePoint(notLiteral[1]);
    test = (ch) => ch !== unwanted;
  } else {
    // One code point against one class: no backtracking is possible here. Throws on bad class text.
    const re = new RegExp(`^(?:${cls})$`, 'v');
    test = (ch) => re.test(ch);
  }
  cache.set(cls, test);
  return test;
}

class Compiler {
  readonly prog: Inst[] = [];
  readonly #tests = new Map<string, (ch: string) => boolean>();

  /** Append the instructions for `node`; they continue at the instruction after them. */
  emit(node: RegexpNode): void {
    const { prog } = this;
    switch (node.t) {
      case 'char':
        prog.push({ op: 'char', test: charTest(node.cls, this.#tests), next: prog.length + 1 });
        return;
      case 'assert':
        prog.push({ op: 'assert', kind: node.kind, next: prog.length + 1 });
        return;
      case 'cat':
        for (const item of node.items) this.emit(item);
        return;
      case 'alt': {
        const jumps: { op: 'jmp'; x: number }[] = [];
        node.options.forEach((option, i) => {
          if (i === node.options.length - 1) {
            this.emit(option);
            return;
          }
          const split = { op: 'split' as const, x: prog.length + 1, y: -1 };
          prog.push(split);
          this.emit(option);
          const jmp = { op: 'jmp' as const, x: -1 };
          prog.push(jmp);
          jumps.push(jmp);
          split.y = prog.length;
        });
        for (const jmp of jumps) jmp.x = prog.length;
        return;
      }
      case 'repeat': {
        const start = prog.length;
        if (node.op === '+') {
          this.emit(node.node);
          prog.push({ op: 'split', x: start, y: prog.length + 1 });
          return;
        }
        const split = { op: 'split' as const, x: start + 1, y: -1 };
        prog.push(split);
        this.emit(node.node);
        if (node.op === '*') prog.push({ op: 'jmp', x: start });
        split.y = prog.length;
        return;
      }
    }
  }
}

const isWordChar = (ch: string | undefined): boolean => ch !== undefined && /^[0-9A-Za-z_]$/.test(ch);

/** Where in the text a DFA state is: it knows only whether that is the start or the end. */
interface Edges {
  atStart: boolean;
  atEnd: boolean;
}

/** Whether an assertion holds at `at` of `text` (or at the position `Edges` describes). */
function assertionHolds(kind: AssertKind, text: readonly string[] | Edges, at: number): boolean {
  if ('atStart' in text) {
    if (kind === 'begin') return text.atStart;
    if (kind === 'end') return text.atEnd;
    throw new Error('word boundaries need the text: run the NFA directly');
  }
  switch (kind) {
    case 'begin':
      return at === 0;
    case 'end':
      return at === text.length;
    case 'word':
      return isWordChar(text[at - 1]) !== isWordChar(text[at]);
    case 'notWord':
      return isWordChar(text[at - 1]) === isWordChar(text[at]);
  }
}

/** A DFA state, built on demand: the NFA threads alive at one position of the text. */
interface DfaState {
  /** The `char` instructions waiting for the next character. */
  readonly chars: readonly number[];
  /** A thread has matched (without needing the end of the text). */
  readonly matched: boolean;
  /** A thread matches if the text ends here. */
  readonly matchesAtEnd: boolean;
  /** Transitions found so far, by code point. */
  readonly next: Map<string, DfaState>;
}

/** DFA states kept per regexp before the cache starts over (RE2 does the same). */
const MAX_DFA_STATES = 4096;

/**
 * A compiled regexp: `test` finds a match anywhere in the text, like
 * RegExp.prototype.test. The NFA's state sets are cached as DFA states, so
 * that the many paths of a build context mostly cost one map lookup per
 * character; a regexp with `\b` or `\B` (which look ahead) runs the NFA directly.
 */
export class LinearRegexp {
  readonly #prog: readonly Inst[];
  readonly #looksAhead: boolean;
  readonly #states = new Map<string, DfaState>();
  readonly #seen: Int32Array;
  #generation = 0;

  /** Throws when a class is not valid JavaScript `v`-mode text. */
  constructor(root: RegexpNode) {
    const compiler = new Compiler();
    compiler.emit(root);
    compiler.prog.push({ op: 'match' });
    this.#prog = compiler.prog;
    this.#looksAhead = compiler.prog.some((inst) => inst.op === 'assert' && (inst.kind === 'word' || inst.kind === 'notWord'));
    this.#seen = new Int32Array(compiler.prog.length);
  }

  test(input: string): boolean {
    return this.#looksAhead ? this.#simulate(Array.from(input)) : this.#runDfa(input);
  }

  /**
   * Adds to `list` the `char` instructions reachable from `seeds` without
   * reading a character, at position `at` of `text`; true when one of the
   * threads matches on the way.
   */
  #closure(seeds: readonly number[], text: readonly string[] | Edges, at: number, list: number[]): boolean {
    const prog = this.#prog;
    const seen = this.#seen;
    const generation = ++this.#generation;
    const stack = [...seeds];
    while (stack.length > 0) {
      const i = stack.pop() as number;
      if (seen[i] === generation) continue;
      seen[i] = generation;
      const inst = prog[i] as Inst;
      switch (inst.op) {
        case 'match':
          return true;
        case 'jmp':
          stack.push(inst.x);
          break;
        case 'split':
          stack.push(inst.y, inst.x);
          break;
        case 'assert':
          if (assertionHolds(inst.kind, text, at)) stack.push(inst.next);
          break;
        case 'char':
          list.push(i);
          break;
      }
    }
    return false;
  }

  #dfaState(seeds: readonly number[], atStart: boolean): DfaState {
    const key = `${atStart ? '^' : ''}${seeds.join(',')}`;
    let state = this.#states.get(key);
    if (state === undefined) {
      if (this.#states.size >= MAX_DFA_STATES) this.#states.clear();
      const chars: number[] = [];
      const matched = this.#closure(seeds, { atStart, atEnd: false }, 0, chars);
      const matchesAtEnd = matched || this.#closure(seeds, { atStart, atEnd: true }, 0, []);
      state = { chars, matched, matchesAtEnd, next: new Map() };
      this.#states.set(key, state);
    }
    return state;
  }

  #runDfa(input: string): boolean {
    const prog = this.#prog;
    let state = this.#dfaState([0], true);
    for (const ch of input) {
      if (state.matched) return true;
      let next = state.next.get(ch);
      if (next === undefined) {
        // A new thread starts at every position: the search is unanchored, as RegExp.test is.
        const seeds = new Set<number>([0]);
        for (const i of state.chars) {
          const inst = prog[i] as Extract<Inst, { op: 'char' }>;
          if (inst.test(ch)) seeds.add(inst.next);
        }
        next = this.#dfaState([...seeds].sort((a, b) => a - b), false);
        state.next.set(ch, next);
      }
      state = next;
    }
    return state.matchesAtEnd;
  }

  /** The NFA run directly (a Pike VM without captures), for assertions that need the next character. */
  #simulate(text: readonly string[]): boolean {
    const prog = this.#prog;
    let seeds = [0];
    for (let at = 0; ; at++) {
      const waiting: number[] = [];
      if (this.#closure(seeds, text, at, waiting)) return true;
      if (at === text.length) return false;
      const ch = text[at] as string;
      // A new thread starts at every position, as in the DFA.
      seeds = [0];
      for (const i of waiting) {
        const inst = prog[i] as Extract<Inst, { op: 'char' }>;
        if (inst.test(ch)) seeds.push(inst.next);
      }
    }
  }
}
