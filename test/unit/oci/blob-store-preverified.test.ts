import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BlobStore } from '../../../src/oci/blob-store.js';
import { verifiesDigest, verifyingStream, type Digest } from '../../../src/oci/digest.js';

const digestOf = (b: Buffer): Digest => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Wired as registry/blob-download.ts does: the verifier may fail before anyone consumes it. */
function verified(data: Buffer, digest: Digest, size: number): ReturnType<typeof verifyingStream> {
  const v = verifyingStream({ digest, size }, 'test');
  pipeline(Readable.from([data]), v, () => undefined);
  return v;
}

describe('BlobStore.put with a source that already verifies the digest', () => {
  it('stores it without hashing again, and a verifying stream is recognised only for its own digest', async () => {
    const data = Buffer.from('verified upstream');
    const src = verified(data, digestOf(data), data.length);
    expect(verifiesDigest(src, digestOf(data))).toBe(true);
    expect(verifiesDigest(src, digestOf(Buffer.from('other')))).toBe(false);
    expect(verifiesDigest(Readable.from([data]), digestOf(data))).toBe(false);
    // With a size, the stream must enforce that very size.
    expect(verifiesDigest(src, digestOf(data), data.length)).toBe(true);
    expect(verifiesDigest(src, digestOf(data), data.length + 1)).toBe(false);
    expect(verifiesDigest(verifyingStream({ digest: digestOf(data) }, 'no size'), digestOf(data), data.length)).toBe(false);
    const store = new BlobStore(mkdtempSync(path.join(tmpdir(), 'hoist-prever-')));
    expect(await store.put(src, { digest: digestOf(data), size: data.length })).toEqual({ digest: digestOf(data), size: data.length });
    expect(await store.has(digestOf(data))).toBe(true);
  });

  it('still stores nothing when that stream finds the content corrupt', async () => {
    const claimed = Buffer.from('what the descriptor says');
    const actual = Buffer.from('WHAT THE DESCRIPTOR SAYS');
    const root = mkdtempSync(path.join(tmpdir(), 'hoist-prever-'));
    const store = new BlobStore(root);
    const src = verified(actual, digestOf(claimed), claimed.length);
    // Let the verifier see the whole (small) content and fail before put() attaches.
    await new Promise((r) => setTimeout(r, 20));
    await expect(store.put(src, { digest: digestOf(claimed), size: claimed.length })).rejects.toThrow(/digest/);
    expect(await store.has(digestOf(claimed))).toBe(false);
    expect(readdirSync(path.join(root, 'blobs', 'sha256'))).toEqual([]);
  });
});
