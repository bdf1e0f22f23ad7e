import { createHash, type Hash } from 'node:crypto';
import { pipeline, Transform, type Readable, type TransformCallback } from 'node:stream';
import { HoistError } from '../errors.js';

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

/**
 * A pass-through Transform that hashes and counts what flows through it.
 * `digest()` and `size` are final once the stream has ended.
 */
export class DigestingStream extends Transform {
  private readonly hash: Hash;
  private readonly algorithm: 'sha256' | 'sha512';
  private bytes = 0;
  private result: Digest | undefined;

  constructor(algorithm: 'sha256' | 'sha512' = 'sha256') {
    super();
    this.algorithm = algorithm;
    this.hash = createHash(algorithm);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    this.result = `${this.algorithm}:${this.hash.digest('hex')}` as Digest;
    cb();
  }

  /** Bytes seen so far. */
  get size(): number {
    return this.bytes;
  }

  /** The digest of everything that passed; throws if the stream has not ended. */
  digest(): Digest {
    if (this.result === undefined) throw new Error('DigestingStream: digest() before the stream ended');
    return this.result;
  }
}

export function createDigester(algorithm: 'sha256' | 'sha512' = 'sha256'): DigestingStream {
  return new DigestingStream(algorithm);
}

/** What a verified stream must hash to and (when known) how long it must be. */
export interface Expectation {
  digest: Digest;
  size?: number;
}

/**
 * A pass-through Transform that fails when the content does not match:
 * early (as soon as too many bytes arrive) for size, at the end for the
 * digest. `describe` names the content in the error.
 */
/**
 * Set on a verifyingStream: the expectation it enforces. A consumer that
 * would verify the same content again (BlobStore.put, a push) can rely on it
 * instead: the stream errors before it ends if the content does not match.
 */
export const VERIFIES_DIGEST: unique symbol = Symbol('hoist.verifies-digest');

/**
 * Whether `stream` is a verifyingStream enforcing exactly `digest`, and,
 * when `size` is given, that size too (the digest alone fixes the content,
 * but a caller relying on the size check needs the stream to make it).
 */
export function verifiesDigest(stream: object, digest: Digest, size?: number): boolean {
  const enforced = (stream as { [VERIFIES_DIGEST]?: Expectation })[VERIFIES_DIGEST];
  return enforced?.digest === digest && (size === undefined || enforced.size === size);
}

export function verifyingStream(expect: Expectation, describe: string): Transform {
  const hash = hasherFor(expect.digest);
  let seen = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length;
      if (expect.size !== undefined && seen > expect.size) {
        cb(mismatch(`${describe}: more than the expected ${expect.size} bytes`));
        return;
      }
      hash.update(chunk);
      cb(null, chunk);
    },
    flush(cb) {
      if (expect.size !== undefined && seen !== expect.size) {
        cb(mismatch(`${describe}: got ${seen} bytes, expected ${expect.size}`));
        return;
      }
      const got = `${digestAlgorithm(expect.digest)}:${hash.digest('hex')}`;
      if (got !== expect.digest) {
        cb(mismatch(`${describe}: content has digest ${got}, expected ${expect.digest}`));
        return;
      }
      cb();
    },
  });
  Object.defineProperty(stream, VERIFIES_DIGEST, { value: { digest: expect.digest, size: expect.size } });
  return stream;
}

function mismatch(message: string): HoistError {
  return new HoistError('DIGEST_MISMATCH', message, {
    hint: 'the content is corrupt or was truncated; fetch or rebuild it again',
  });
}

/**
 * `stream` through a verifyingStream. pipeline: errors on either side reach
 * the consumer, and a consumer that stops early releases the source (and its
 * file descriptor).
 */
export function verified(stream: Readable, expect: Expectation, describe: string): Transform {
  const check = verifyingStream(expect, describe);
  pipeline(stream, check, () => undefined);
  return check;
}
