/**
 * `WWW-Authenticate` parsing (RFC 7235): one header may hold several
 * challenges, each a scheme followed by comma-separated `key=value`
 * parameters whose values are tokens or quoted strings (which may contain
 * commas, `=` and backslash escapes). Pure.
 *
 *   Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"
 *   Basic realm="Registry Realm"
 */

export interface Challenge {
  /** Lowercased: `bearer`, `basic`, ... */
  scheme: string;
  /** Parameter names lowercased; values unquoted. */
  params: Record<string, string>;
  /** A token68 value (`Negotiate abc==`), rare in registries. */
  token68?: string;
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

class Scanner {
  pos = 0;
  constructor(readonly s: string) {}

  get done(): boolean {
    return this.pos >= this.s.length;
  }

  peek(): string {
    return this.s[this.pos] ?? '';
  }

  skipSpace(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.pos++;
  }

  /** Skip whitespace and commas (empty list elements are allowed). */
  skipSeparators(): void {
    while (this.peek() === ' ' || this.peek() === '\t' || this.peek() === ',') this.pos++;
  }

  token(): string {
    const start = this.pos;
    while (!this.done && TCHAR.test(this.peek())) this.pos++;
    return this.s.slice(start, this.pos);
  }

  quoted(): string {
    // At the opening quote.
    this.pos++;
    let out = '';
    while (!this.done) {
      const c = this.peek();
      this.pos++;
      if (c === '\\' && !this.done) {
        out += this.peek();
        this.pos++;
      } else if (c === '"') {
        return out;
      } else {
        out += c;
      }
    }
    return out; // unterminated: be lenient and take the rest
  }

  /** Is the text at pos `token BWS "="` (a parameter), not `token token` (a new challenge)? */
  atParam(): boolean {
    const save = this.pos;
    const name = this.token();
    this.skipSpace();
    const isParam = name !== '' && this.peek() === '=' && this.s[this.pos + 1] !== '=';
    this.pos = save;
    return isParam;
  }
}

function parseOne(header: string): Challenge[] {
  const sc = new Scanner(header);
  const out: Challenge[] = [];
  for (;;) {
    sc.skipSeparators();
    if (sc.done) break;
    const scheme = sc.token();
    if (scheme === '') {
      sc.pos++; // junk: skip a character and resynchronise
      continue;
    }
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(challenge);
    sc.skipSpace();
    if (!sc.atParam()) {
      // token68, or nothing
      const start = sc.pos;
      while (!sc.done && /[A-Za-z0-9\-._~+/=]/.test(sc.peek())) sc.pos++;
      const t = sc.s.slice(start, sc.pos);
      if (t !== '') challenge.token68 = t;
    }
    // Parameters until something that starts a new challenge.
    for (;;) {
      sc.skipSeparators();
      if (sc.done || !sc.atParam()) break;
      const name = sc.token().toLowerCase();
      sc.skipSpace();
      sc.pos++; // '='
      sc.skipSpace();
      const value = sc.peek() === '"' ? sc.quoted() : sc.token();
      challenge.params[name] = value;
    }
  }
  return out;
}

/** Every challenge in one or more `WWW-Authenticate` header values. */
export function parseChallenges(header: string | readonly string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const values = typeof header === 'string' ? [header] : header;
  return values.flatMap(parseOne);
}

/** The challenge a registry client answers: Bearer if offered, else Basic. */
export function preferredChallenge(challenges: readonly Challenge[]): Challenge | undefined {
  return challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
}
