/**
 * Bearer tokens by (registry, scope set). A token is reused until shortly
 * before it expires: `issued_at` (when the server sent it) plus `expires_in`
 * seconds (default 60, as the token spec says), less a safety margin. A
 * token granted for a superset of the scopes asked for serves too, so a
 * push token (pull,push) also answers later pulls of that repository.
 */

export interface TokenResponseTimes {
  /** Seconds; absent or non-positive means the spec's default of 60. */
  expiresIn?: number;
  /** RFC 3339 time the token server issued it. */
  issuedAt?: string;
}

interface Entry {
  token: string;
  scopes: Set<string>;
  expiresAt: number;
}

export const DEFAULT_TOKEN_LIFETIME_S = 60;
/** Refresh this long before expiry (or a tenth of the lifetime, whichever is less). */
const MARGIN_MS = 10_000;

/**
 * Normalise scopes: `repository:foo:push,pull` and `repository:foo:pull` +
 * `repository:foo:push` mean the same, so each (resource, action) pair is
 * one element.
 */
export function scopeElements(scopes: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const scope of scopes) {
    for (const s of scope.split(' ')) {
      const colon = s.lastIndexOf(':');
      if (colon <= 0) {
        if (s !== '') out.add(s);
        continue;
      }
      const resource = s.slice(0, colon);
      for (const action of s.slice(colon + 1).split(',')) if (action !== '') out.add(`${resource}:${action}`);
    }
  }
  return out;
}

export class TokenCache {
  private readonly entries = new Map<string, Entry[]>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Expiry time (ms since epoch) of a token received at `receivedAt`. */
  static expiry(times: TokenResponseTimes, receivedAt: number): number {
    const lifetimeS = times.expiresIn !== undefined && times.expiresIn > 0 ? times.expiresIn : DEFAULT_TOKEN_LIFETIME_S;
    let issued = receivedAt;
    if (times.issuedAt !== undefined) {
      const t = Date.parse(times.issuedAt);
      // A server clock ahead of ours must not stretch the lifetime.
      if (Number.isFinite(t) && t < receivedAt) issued = t;
    }
    const lifetimeMs = lifetimeS * 1000;
    return issued + lifetimeMs - Math.min(MARGIN_MS, lifetimeMs / 10);
  }

  get(registry: string, scopes: readonly string[]): string | undefined {
    const want = scopeElements(scopes);
    const now = this.now();
    const list = this.entries.get(registry);
    if (list === undefined) return undefined;
    const live = list.filter((e) => e.expiresAt > now);
    if (live.length !== list.length) this.entries.set(registry, live);
    // Prefer the smallest sufficient token: it is the one asked for exactly.
    let best: Entry | undefined;
    for (const e of live) {
      if ([...want].every((s) => e.scopes.has(s)) && (best === undefined || e.scopes.size < best.scopes.size)) best = e;
    }
    return best?.token;
  }

  put(registry: string, scopes: readonly string[], token: string, times: TokenResponseTimes = {}): void {
    const entry: Entry = { token, scopes: scopeElements(scopes), expiresAt: TokenCache.expiry(times, this.now()) };
    const list = (this.entries.get(registry) ?? []).filter((e) => !sameSet(e.scopes, entry.scopes));
    list.push(entry);
    this.entries.set(registry, list);
  }

  /** Forget a token the registry refused. */
  invalidate(registry: string, token: string): void {
    const list = this.entries.get(registry);
    if (list !== undefined) this.entries.set(registry, list.filter((e) => e.token !== token));
  }
}

function sameSet(a: Set<string>, b: Set<string>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}
