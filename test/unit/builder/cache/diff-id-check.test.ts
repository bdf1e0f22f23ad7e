/** A cached layer's blob checked against the diffID its record claims, in the pass that stores it. */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { checkDiffId, diffIdCheck, diffIdChecked } from '../../../../src/builder/cache/diff-id-check.js';
import { BlobStore, sha256Digest, type Digest } from '../../../../src/oci/index.js';
import { tempDir } from '../../../helpers/build.js';

const GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
const content = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 31) % 251));
const gz = gzipSync(content);
const chunks = [gz.subarray(0, 1000), gz.subarray(1000, 50_000), gz.subarray(50_000)];

async function passed(blob: Readable, mediaType: string, diffId: Digest): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(blob, diffIdCheck(mediaType, diffId, 'the layer'), new Writable({ write: (c: Buffer, _e, cb) => (out.push(c), cb()) }));
  return Buffer.concat(out);
}

describe('diffIdCheck', () => {
  it('passes the blob through unchanged when its uncompressed content is the diffID', async () => {
    expect((await passed(Readable.from(chunks), GZIP, sha256Digest(content))).equals(gz)).toBe(true);
    await expect(checkDiffId(Readable.from(chunks), GZIP, sha256Digest(content), 'the layer')).resolves.toBeUndefined();
  });

  it('an uncompressed layer, and one whose media type says nothing of compression (sniffed)', async () => {
    expect((await passed(Readable.from([content]), 'application/vnd.oci.image.layer.v1.tar', sha256Digest(content))).equals(content)).toBe(true);
    expect((await passed(Readable.from(chunks), 'application/example', sha256Digest(content))).equals(gz)).toBe(true);
  });

  it('fails before the end when the uncompressed content is another diffID, or is not gzip at all', async () => {
    const other = sha256Digest(Buffer.from('other'));
    await expect(passed(Readable.from(chunks), GZIP, other)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    await expect(checkDiffId(Readable.from(chunks), GZIP, other, 'the layer')).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    await expect(passed(Readable.from([content]), GZIP, sha256Digest(content))).rejects.toThrow();
    // The uncompressed digest is of the compressed bytes' content, not of the blob.
    await expect(passed(Readable.from(chunks), GZIP, sha256Digest(gz))).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
  });
});

describe('diffIdCheck into the blob store', () => {
  it('a blob whose content is not the diffID is not stored', async () => {
    const store = new BlobStore(tempDir('hoist-diffid-'));
    await store.prepare();
    const bad = diffIdChecked(Readable.from(chunks), GZIP, sha256Digest(Buffer.from('other')), 'the layer');
    await expect(store.put(bad, { digest: sha256Digest(gz), size: gz.length })).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    expect(await store.has(sha256Digest(gz))).toBe(false);
    await store.put(diffIdChecked(Readable.from(chunks), GZIP, sha256Digest(content), 'the layer'), { digest: sha256Digest(gz), size: gz.length });
    expect(await store.has(sha256Digest(gz))).toBe(true);
  });
});
