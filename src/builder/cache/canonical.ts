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
  const fields = Object.keys(value)
    .filter((k) => (value as Record<string, KeyValue | undefined>)[k] !== undefined)
    .map((k) => ({ k, utf8: Buffer.from(k, 'utf8') }))
    .sort((a, b) => Buffer.compare(a.utf8, b.utf8));
  return `{${fields.map(({ k }) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, KeyValue>)[k] as KeyValue)}`).join(',')}}`;
}
