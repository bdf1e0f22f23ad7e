/**
 * Canonical JSON for cache keys: object keys sorted by their UTF-8 bytes,
 * no whitespace, strings escaped by JSON.stringify. Keys are a hash of this
 * text, so two different sets of named fields can never give the same
 * input (Kaniko's keys, made by joining strings, collided).
 */
export type KeyValue = string | number | boolean | null | readonly KeyValue[] | { readonly [field: string]: KeyValue | undefined };

export function canonicalJson(value: KeyValue): string {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`a cache key cannot hold ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${(value as readonly KeyValue[]).map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).filter((k) => (value as Record<string, KeyValue | undefined>)[k] !== undefined);
  // UTF-16 order is UTF-8 byte order unless a key holds a surrogate or a character above them: compare bytes only then.
  keys.sort(keys.some((k) => ABOVE_SURROGATES.test(k)) ? byUtf8 : undefined);
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, KeyValue>)[k] as KeyValue)}`).join(',')}}`;
}

const ABOVE_SURROGATES = /[\uD800-\uFFFF]/;

function byUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
