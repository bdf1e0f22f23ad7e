/**
 * Compiles Go (RE2) regexp text into an equivalent linear-time matcher.
 *
 * patternmatcher turns a .dockerignore pattern into Go regexp text and lets
 * Go's regexp package interpret it. Raw `[`, `]`, `^` and `\x` escapes from
 * the pattern reach that text unchanged, so the meaning of POSIX classes
 * (`[[:digit:]]`), Perl escapes (`\d`, `\b`), `\Q...\E`, octal and hex escapes
 * and Go's range-order errors all come from RE2, not from JavaScript. This
 * module parses the RE2 syntax into a tree whose single characters are
 * JavaScript `v`-mode class text with every literal spelled as `\u{...}`,
 * so no JavaScript quirk leaks through; regexp-nfa.ts runs the tree without
 * backtracking, as RE2 does (a JavaScript RegExp made hostile patterns
 * exponential).
 *
 * patternmatcher escapes `{`, `}`, `|`, `+`, `(`, `)` and `.` from the pattern, so
 * `{n,m}` repetition never reaches this parser; the other RE2 syntax can.
 *
 * Flags are Go's regexp.Compile defaults: case-sensitive, `^`/`$` anchor the
 * whole text, `.` excludes only `\n`, negated classes include `\n`.
 */

import { perlClass, posixClassRanges, unicodeClass } from './go-regexp-classes.js';
import { LinearRegexp, type RegexpNode } from './regexp-nfa.js';

export type GoRegexpResult = { ok: true; regexp: LinearRegexp } | { ok: false; error: string };

class RegexpSyntaxError extends Error {}

const cp = (ch: string): string => `\\u{${(ch.codePointAt(0) as number).toString(16)}}`;
const cpOf = (n: number): string => `\\u{${n.toString(16)}}`;
const isOctal = (ch: string | undefined): boolean => ch !== undefined && ch >= '0' && ch <= '7';
const unhex = (ch: string | undefined): number => (ch !== undefined && /^[0-9a-fA-F]$/.test(ch) ? parseInt(ch, 16) : -1);

type LastKind = 'marker' | 'atom' | 'assertion' | 'repeat';

/** An open group: the alternatives finished so far and the one being read. */
interface Group {
  options: RegexpNode[];
  current: RegexpNode[];
}

const seq = (items: RegexpNode[]): RegexpNode => (items.length === 1 ? (items[0] as RegexpNode) : { t: 'cat', items });
const alternatives = (g: Group): RegexpNode => {
  const options = [...g.options, seq(g.current)];
  return options.length === 1 ? (options[0] as RegexpNode) : { t: 'alt', options };
};

class Translator {
  private readonly cs: string[];
  private i = 0;
  private readonly groups: Group[] = [{ options: [], current: [] }];
  /** What the last token was, for repetition checks. */
  private last: LastKind = 'marker';

  constructor(src: string) {
    this.cs = Array.from(src);
  }

  translate(): RegexpNode {
    const { cs } = this;
    while (this.i < cs.length) {
      const ch = cs[this.i] as string;
      switch (ch) {
        case '(':
          if (cs[this.i + 1] === '?') throw new RegexpSyntaxError('unsupported group syntax');
          this.i++;
          this.groups.push({ options: [], current: [] });
          this.last = 'marker';
          break;
        case '|': {
          this.i++;
          const group = this.group();
          group.options.push(seq(group.current));
          group.current = [];
          this.last = 'marker';
          break;
        }
        case ')': {
          if (this.groups.length === 1) throw new RegexpSyntaxError('unexpected )');
          this.i++;
          const closed = this.groups.pop() as Group;
          this.emit(alternatives(closed), 'atom');
          break;
        }
        case '^':
        case '$':
          this.i++;
          this.emit({ t: 'assert', kind: ch === '^' ? 'begin' : 'end' }, 'assertion');
          break;
        case '.':
          this.i++;
          this.emitClass('[^\\u{a}]');
          break;
        case '[':
          this.emitClass(this.parseClass());
          break;
        case '*':
        case '+':
        case '?':
          this.i++;
          this.repeat(ch);
          break;
        case '\\':
          this.parseEscapeOutsideClass();
          break;
        default:
          this.i++;
          this.emitClass(cp(ch));
      }
    }
    if (this.groups.length !== 1) throw new RegexpSyntaxError('missing closing )');
    return alternatives(this.group());
  }

  private group(): Group {
    return this.groups[this.groups.length - 1] as Group;
  }

  private emit(node: RegexpNode, kind: LastKind): void {
    this.group().current.push(node);
    this.last = kind;
  }

  private emitClass(cls: string): void {
    this.emit({ t: 'char', cls }, 'atom');
  }

  private repeat(op: '*' | '+' | '?'): void {
    // A lazy repetition matches the same texts; only which match is found first differs.
    if (this.cs[this.i] === '?') this.i++;
    if (this.last === 'repeat') throw new RegexpSyntaxError('invalid nested repetition operator');
    if (this.last === 'marker') throw new RegexpSyntaxError('missing argument to repetition operator');
    const { current } = this.group();
    const node = current.pop() as RegexpNode;
    current.push({ t: 'repeat', op, node });
    this.last = 'repeat';
  }

  private parseEscapeOutsideClass(): void {
    const { cs } = this;
    const next = cs[this.i + 1];
    switch (next) {
      case 'A':
      case 'z':
        this.i += 2;
        this.emit({ t: 'assert', kind: next === 'A' ? 'begin' : 'end' }, 'assertion');
        return;
      case 'b':
      case 'B':
        this.i += 2;
        this.emit({ t: 'assert', kind: next === 'b' ? 'word' : 'notWord' }, 'assertion');
        return;
      case 'Q': {
        this.i += 2;
        let end = this.i;
        while (end < cs.length && !(cs[end] === '\\' && cs[end + 1] === 'E')) end++;
        for (const ch of cs.slice(this.i, end)) this.emitClass(cp(ch));
        this.i = Math.min(end + 2, cs.length);
        return;
      }
      default:
        break;
    }
    const cls = this.parseClassEscape();
    this.emitClass(cls ?? cpOf(this.parseEscape()));
  }

  /** `\d`-style and `\p{...}` escapes, as one JavaScript class item; null if not one. */
  private parseClassEscape(): string | null {
    const { cs } = this;
    if (cs[this.i] !== '\\') return null;
    const kind = cs[this.i + 1];
    if (kind === 'p' || kind === 'P') return this.parseUnicodeClass();
    const perl = kind === undefined ? null : perlClass(kind);
    if (perl !== null) this.i += 2;
    return perl;
  }

  private parseUnicodeClass(): string {
    const { cs } = this;
    let negated = cs[this.i + 1] === 'P';
    this.i += 2;
    let name: string;
    if (cs[this.i] === '{') {
      const close = cs.indexOf('}', this.i);
      if (close < 0) throw new RegexpSyntaxError('invalid character class range');
      name = cs.slice(this.i + 1, close).join('');
      this.i = close + 1;
    } else {
      if (this.i >= cs.length) throw new RegexpSyntaxError('invalid character class range');
      name = cs[this.i] as string;
      this.i++;
    }
    if (name.startsWith('^')) {
      negated = !negated;
      name = name.slice(1);
    }
    const body = unicodeClass(name);
    if (body === null) throw new RegexpSyntaxError('invalid character class range');
    return negated ? `[^${body}]` : body;
  }

  private parseClass(): string {
    const { cs } = this;
    this.i++;
    let negated = false;
    if (cs[this.i] === '^') {
      negated = true;
      this.i++;
    }
    const items: string[] = [];
    let first = true;
    while (this.i >= cs.length || cs[this.i] !== ']' || first) {
      first = false;
      if (cs.length - this.i > 2 && cs[this.i] === '[' && cs[this.i + 1] === ':') {
        const named = this.parseNamedClass();
        if (named !== null) {
          items.push(named);
          continue;
        }
      }
      const escaped = this.parseClassEscape();
      if (escaped !== null) {
        items.push(escaped);
        continue;
      }
      const lo = this.parseClassChar();
      let hi = lo;
      if (cs.length - this.i >= 2 && cs[this.i] === '-' && cs[this.i + 1] !== ']') {
        this.i++;
        hi = this.parseClassChar();
        if (hi < lo) throw new RegexpSyntaxError('invalid character class range');
      }
      items.push(lo === hi ? cpOf(lo) : `${cpOf(lo)}-${cpOf(hi)}`);
    }
    this.i++;
    return `[${negated ? '^' : ''}${items.join('')}]`;
  }

  /** `[:alpha:]` and `[:^alpha:]`; null when the text is not a named class at all. */
  private parseNamedClass(): string | null {
    const rest = this.cs.slice(this.i + 2).join('');
    const colon = rest.indexOf(':]');
    if (colon < 0) return null;
    let name = rest.slice(0, colon);
    this.i += 2 + Array.from(name).length + 2;
    const negated = name.startsWith('^');
    if (negated) name = name.slice(1);
    const ranges = posixClassRanges(name);
    if (ranges === null) throw new RegexpSyntaxError('invalid character class range');
    return `[${negated ? '^' : ''}${ranges}]`;
  }

  private parseClassChar(): number {
    const ch = this.cs[this.i];
    if (ch === undefined) throw new RegexpSyntaxError('missing closing ]');
    if (ch === '\\') return this.parseEscape();
    this.i++;
    return ch.codePointAt(0) as number;
  }

  /** A single-character escape at cs[i] === '\\' (Go's parseEscape). */
  private parseEscape(): number {
    const { cs } = this;
    this.i++;
    const c = cs[this.i];
    if (c === undefined) throw new RegexpSyntaxError('trailing backslash at end of expression');
    this.i++;
    const code = c.codePointAt(0) as number;
    if (code < 0x80 && !/[0-9A-Za-z]/.test(c)) return code;
    if ((c >= '1' && c <= '7' && isOctal(cs[this.i])) || c === '0') {
      let r = code - 0x30;
      for (let k = 1; k < 3 && isOctal(cs[this.i]); k++) {
        r = r * 8 + ((cs[this.i] as string).codePointAt(0) as number) - 0x30;
        this.i++;
      }
      return r;
    }
    if (c === 'x') return this.parseHexEscape();
    const simple: Readonly<Record<string, number>> = { a: 7, f: 12, n: 10, r: 13, t: 9, v: 11 };
    const value = simple[c];
    if (value !== undefined && Object.hasOwn(simple, c)) return value;
    throw new RegexpSyntaxError(`invalid escape sequence: \\${c}`);
  }

  private parseHexEscape(): number {
    const { cs } = this;
    if (cs[this.i] === '{') {
      let r = 0;
      let digits = 0;
      this.i++;
      for (;;) {
        const h = cs[this.i];
        this.i++;
        if (h === '}') break;
        const v = unhex(h);
        r = r * 16 + v;
        if (v < 0 || r > 0x10ffff) throw new RegexpSyntaxError('invalid escape sequence: \\x');
        digits++;
      }
      if (digits === 0) throw new RegexpSyntaxError('invalid escape sequence: \\x');
      return r;
    }
    const x = unhex(cs[this.i]);
    const y = unhex(cs[this.i + 1]);
    if (x < 0 || y < 0) throw new RegexpSyntaxError('invalid escape sequence: \\x');
    this.i += 2;
    return x * 16 + y;
  }
}

export function compileGoRegexp(src: string): GoRegexpResult {
  try {
    return { ok: true, regexp: new LinearRegexp(new Translator(src).translate()) };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}
