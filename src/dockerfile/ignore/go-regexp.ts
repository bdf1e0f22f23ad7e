/**
 * Compiles Go (RE2) regexp text into an equivalent JavaScript RegExp.
 *
 * patternmatcher turns a .dockerignore pattern into Go regexp text and lets
 * Go's regexp package interpret it. Raw `[`, `]`, `^` and `\x` escapes from
 * the pattern reach that text unchanged, so the meaning of POSIX classes
 * (`[[:digit:]]`), Perl escapes (`\d`, `\b`), `\Q...\E`, octal and hex escapes
 * and Go's range-order errors all come from RE2, not from JavaScript. This
 * module parses the RE2 syntax and emits JavaScript `v`-mode syntax with
 * every literal spelled as `\u{...}`, so no JavaScript quirk leaks through.
 *
 * patternmatcher escapes `{`, `}`, `|`, `+`, `(`, `)` and `.` from the pattern, so
 * `{n,m}` repetition never reaches this parser; the other RE2 syntax can.
 *
 * Flags are Go's regexp.Compile defaults: case-sensitive, `^`/`$` anchor the
 * whole text, `.` excludes only `\n`, negated classes include `\n`.
 */

import { perlClass, posixClassRanges, unicodeClass } from './go-regexp-classes.js';

export type GoRegexpResult = { ok: true; regexp: RegExp } | { ok: false; error: string };

class RegexpSyntaxError extends Error {}

const cp = (ch: string): string => `\\u{${(ch.codePointAt(0) as number).toString(16)}}`;
const cpOf = (n: number): string => `\\u{${n.toString(16)}}`;
const isOctal = (ch: string | undefined): boolean => ch !== undefined && ch >= '0' && ch <= '7';
const unhex = (ch: string | undefined): number => (ch !== undefined && /^[0-9a-fA-F]$/.test(ch) ? parseInt(ch, 16) : -1);

class Translator {
  private readonly cs: string[];
  private i = 0;
  private out = '';
  /** What the last emitted token was, for repetition checks. */
  private last: { kind: 'marker' | 'atom' | 'assertion' | 'repeat'; start: number } = { kind: 'marker', start: 0 };

  constructor(src: string) {
    this.cs = Array.from(src);
  }

  translate(): string {
    const { cs } = this;
    let depth = 0;
    while (this.i < cs.length) {
      const ch = cs[this.i] as string;
      const start = this.out.length;
      switch (ch) {
        case '(':
          if (cs[this.i + 1] === '?') throw new RegexpSyntaxError('unsupported group syntax');
          this.i++;
          depth++;
          this.emit('(?:', 'marker', start);
          break;
        case '|':
          this.i++;
          this.emit('|', 'marker', start);
          break;
        case ')':
          if (depth === 0) throw new RegexpSyntaxError('unexpected )');
          this.i++;
          depth--;
          this.emit(')', 'atom', start);
          break;
        case '^':
        case '$':
          this.i++;
          this.emit(ch, 'assertion', start);
          break;
        case '.':
          this.i++;
          this.emit('[^\\u{a}]', 'atom', start);
          break;
        case '[':
          this.emit(this.parseClass(), 'atom', start);
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
          this.emit(cp(ch), 'atom', start);
      }
    }
    if (depth !== 0) throw new RegexpSyntaxError('missing closing )');
    return this.out;
  }

  private emit(text: string, kind: 'marker' | 'atom' | 'assertion', start: number): void {
    this.out += text;
    this.last = { kind, start };
  }

  private repeat(op: string): void {
    let lazy = '';
    if (this.cs[this.i] === '?') {
      lazy = '?';
      this.i++;
    }
    if (this.last.kind === 'repeat') throw new RegexpSyntaxError('invalid nested repetition operator');
    if (this.last.kind === 'marker') throw new RegexpSyntaxError('missing argument to repetition operator');
    if (this.last.kind === 'assertion') {
      // RE2 may repeat an empty-width assertion; JavaScript only a group.
      this.out = `${this.out.slice(0, this.last.start)}(?:${this.out.slice(this.last.start)})`;
    }
    this.out += op + lazy;
    this.last = { kind: 'repeat', start: this.last.start };
  }

  private parseEscapeOutsideClass(): void {
    const { cs } = this;
    const start = this.out.length;
    const next = cs[this.i + 1];
    switch (next) {
      case 'A':
      case 'z':
        this.i += 2;
        this.emit(next === 'A' ? '^' : '$', 'assertion', start);
        return;
      case 'b':
      case 'B':
        this.i += 2;
        this.emit(`\\${next}`, 'assertion', start);
        return;
      case 'Q': {
        this.i += 2;
        let end = this.i;
        while (end < cs.length && !(cs[end] === '\\' && cs[end + 1] === 'E')) end++;
        for (const ch of cs.slice(this.i, end)) this.emit(cp(ch), 'atom', this.out.length);
        this.i = Math.min(end + 2, cs.length);
        return;
      }
      default:
        break;
    }
    const cls = this.parseClassEscape();
    if (cls !== null) {
      this.emit(cls, 'atom', start);
      return;
    }
    this.emit(cpOf(this.parseEscape()), 'atom', start);
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
    return { ok: true, regexp: new RegExp(new Translator(src).translate(), 'v') };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}
