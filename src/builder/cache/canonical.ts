/**
 * Canonical JSON for cache keys: object keys sorted by their UTF-8 bytes,
 * no whitespace, strings escaped by JSON.stringify. Keys are a hash of this
 * text, so two different sets of named fields can never give the same
 * input (Kaniko's keys, made by joining strings, collided).
 */
export type KeyValue = string | number | boolean | null | readonly KeyValue[] | { readonly [field: string]: KeyValue | undefined };

export function canonicalJson(value: KeyValue): string {
  // Loops and string appends rather than filter/map/join: a COPY's listing holds an object per
  // source file, and a no-op rebuild serializes thousands of them (twice as fast this way).
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`a cache key cannot hold ${value}`);
      return JSON.stringify(value);
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) {
    const items = value as readonly KeyValue[];
    let out = '[';
    for (let i = 0; i < items.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(items[i] as KeyValue);
    return `${out}]`;
  }
  const record = value as Readonly<Record<string, KeyValue | undefined>>;
  const keys: string[] = [];
  let aboveSurrogates = false;
  for (const k of Object.keys(record)) {
    if (record[k] === undefined) continue;
    keys.push(k);
    aboveSurrogates ||= ABOVE_SURROGATES.test(k);
  }
  // UTF-16 order is UTF-8 byte order unless a key holds a surrogate or a character above them: compare bytes only then.
  keys.sort(aboveSurrogates ? byUtf8 : undefined);
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    out += `${i === 0 ? '' : ','}${JSON.stringify(k)}:${canonicalJson(record[k] as KeyValue)}`;
  }
  return `${out}}`;
}

const ABOVE_SURROGATES = /[\uD800-\uFFFF]/;

function byUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
