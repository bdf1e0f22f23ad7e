import { createHash, type Hash } from 'node:crypto';

/** A content digest. hoist produces only sha256; it verifies sha256 and sha512. */
export type Digest = `sha256:${string}` | `sha512:${string}`;

const DIGEST_RE = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export function isDigest(value: string): value is Digest {
  return DIGEST_RE.test(value);
}

/** Throws a TypeError for anything that is not a well-formed digest. */
export function parseDigest(value: string): Digest {
  if (!isDigest(value)) throw new TypeError(`invalid digest: ${JSON.stringify(value)}`);
  return value;
}

export function digestAlgorithm(d: Digest): 'sha256' | 'sha512' {
  return d.startsWith('sha512:') ? 'sha512' : 'sha256';
}

export function digestHex(d: Digest): string {
  return d.slice(d.indexOf(':') + 1);
}

export function sha256Digest(data: string | Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Hash for a digest's algorithm, for streaming verification. */
export function hasherFor(d: Digest): Hash {
  return createHash(digestAlgorithm(d));
}
