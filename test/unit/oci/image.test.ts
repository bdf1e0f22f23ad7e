import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { HoistError } from '../../../src/errors.js';
import { serializeConfigFile } from '../../../src/oci/canonical-json.js';
import type { Digest } from '../../../src/oci/digest.js';
import { blobImage, imageFromParts, verifiedBlob } from '../../../src/oci/image.js';
import { blobLayer, gzipLayer, storeLayer, writtenLayer, type Layer } from '../../../src/oci/layer.js';
import { MediaType } from '../../../src/oci/media-types.js';
import type { Descriptor } from '../../../src/oci/types.js';
import { collect, makeLayer, makeStoreImage, sha256, tarContents, testConfig, useTempDirs } from './fixtures.js';

const tempDir = useTempDirs();

/** A layer that counts how often its digest is computed. */
function countingLayer(l: { gz: Buffer; digest: Digest; diffId: Digest }, mediaType: string = MediaType.OciLayerGzip): Layer & { calls: () => number } {
  let calls = 0;
  const inner = blobLayer({ mediaType, digest: l.digest, size: l.gz.length }, l.diffId, async () => Readable.from([l.gz]));
  return {
    ...inner,
    digest: async () => {
      calls++;
      return l.digest;
    },
    calls: () => calls,
  };
}

describe('imageFromParts', () => {
  it('computes the manifest lazily, once, and digests what it serializes', async () => {
    const l1 = await makeLayer({ a: '1' });
    const l2 = await makeLayer({ b: '2' });
    const layers = [countingLayer(l1), countingLayer(l2)];
    const config = testConfig([l1.diffId, l2.diffId]);
    const img = imageFromParts({ config, layers });
    expect(layers[0]?.calls()).toBe(0);

    const m = await img.manifest();
    await img.manifest();
    await img.rawManifest();
    expect(layers.map((l) => l.calls())).toEqual([1, 1]);

    const raw = await img.rawManifest();
    expect(raw.toString().endsWith('}')).toBe(true);
    expect(await img.digest()).toBe(sha256(raw));
    expect(await img.mediaType()).toBe(MediaType.OciManifest);
    expect(JSON.parse(raw.toString())).toEqual(m);
    const rawConfig = await img.rawConfigFile();
    expect(rawConfig).toEqual(serializeConfigFile(config));
    expect(m.config).toEqual({ mediaType: MediaType.OciConfig, digest: sha256(rawConfig), size: rawConfig.length });
    expect(m.layers.map((d) => d.digest)).toEqual([l1.digest, l2.digest]);
    expect(m.layers.map((d) => d.size)).toEqual([l1.gz.length, l2.gz.length]);
  });

  it('uses Docker media types throughout when asked', async () => {
    const l1 = await makeLayer({ a: '1' });
    const img = imageFromParts({ config: testConfig([l1.diffId]), layers: [countingLayer(l1)], mediaTypes: 'docker' });
    const m = await img.manifest();
    expect(m.mediaType).toBe(MediaType.DockerManifest);
    expect(m.config.mediaType).toBe(MediaType.DockerConfig);
    expect(m.layers[0]?.mediaType).toBe(MediaType.DockerLayerGzip);
    expect((await img.layers())[0]?.mediaType()).toBe(MediaType.DockerLayerGzip);
  });

  it('keeps exact config bytes when given a Buffer', async () => {
    const l1 = await makeLayer({ a: '1' });
    const raw = Buffer.from(`${JSON.stringify(testConfig([l1.diffId]), null, 2)}\n`);
    const img = imageFromParts({ config: raw, layers: [countingLayer(l1)] });
    expect(await img.rawConfigFile()).toBe(raw);
    expect((await img.manifest()).config.digest).toBe(sha256(raw));
    expect((await img.configFile()).rootfs.diff_ids).toEqual([l1.diffId]);
  });

  it('refuses layers that do not match the config diff_ids', async () => {
    const l1 = await makeLayer({ a: '1' });
    const l2 = await makeLayer({ b: '2' });
    const img = imageFromParts({ config: testConfig([l2.diffId]), layers: [countingLayer(l1)] });
    await expect(img.manifest()).rejects.toMatchObject({ code: 'BAD_IMAGE' });
    const img2 = imageFromParts({ config: testConfig([]), layers: [countingLayer(l1)] });
    await expect(img2.digest()).rejects.toBeInstanceOf(HoistError);
  });

  it('hands out copies, so callers cannot change a memoized manifest or config', async () => {
    const { image } = await makeStoreImage(await tempDir());
    const m = await image.manifest();
    m.layers.pop();
    (await image.configFile()).os = 'windows';
    expect((await image.manifest()).layers).toHaveLength(2);
    expect((await image.configFile()).os).toBe('linux');
  });
});

describe('layers', () => {
  it('storeLayer streams the verified blob and its uncompressed tar', async () => {
    const { image, layers } = await makeStoreImage(await tempDir());
    const [first] = await image.layers();
    expect(await collect(await first!.compressed())).toEqual(layers[0]!.gz);
    const tar = await collect(await first!.uncompressed());
    expect(tar).toEqual(layers[0]!.tar);
    expect(await tarContents(tar)).toEqual({ 'etc/hello.txt': 'hello\n' });
  });

  it('uncompressed() fails when the tar does not match the diffID', async () => {
    const dir = await tempDir();
    const { store, layers } = await makeStoreImage(dir);
    const l = layers[0]!;
    const wrong = storeLayer(store, { mediaType: MediaType.OciLayerGzip, digest: l.digest, size: l.gz.length }, sha256('other'));
    await expect(collect(await wrong.uncompressed())).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
  });

  it('writtenLayer (a blob this build put in the store) reads it back unhashed: the same bytes and tar, no second verification', async () => {
    const dir = await tempDir();
    const { store, layers } = await makeStoreImage(dir);
    const l = layers[0]!;
    const layer = writtenLayer(store, { mediaType: MediaType.OciLayerGzip, digest: l.digest, size: l.gz.length }, l.diffId);
    expect(await collect(await layer.compressed())).toEqual(l.gz);
    expect(await collect(await layer.uncompressed())).toEqual(l.tar);
    expect([await layer.digest(), await layer.diffId(), await layer.size()]).toEqual([l.digest, l.diffId, l.gz.length]);
    // What storeLayer would refuse (a diffID the tar does not have) is not checked again here.
    const claimed = writtenLayer(store, { mediaType: MediaType.OciLayerGzip, digest: l.digest, size: l.gz.length }, sha256('other'));
    expect(await collect(await claimed.uncompressed())).toEqual(l.tar);
  });

  it('blobLayer sniffs compression when the media type does not say', async () => {
    const l = await makeLayer({ x: 'y' });
    const layer = blobLayer({ mediaType: 'application/octet-stream', digest: l.digest, size: l.gz.length }, l.diffId, async () =>
      Readable.from([l.gz.subarray(0, 3), l.gz.subarray(3)]),
    );
    expect(await collect(await layer.uncompressed())).toEqual(l.tar);
  });

  it('gzipLayer compresses an uncompressed layer with a stable, verified digest', async () => {
    const l = await makeLayer({ f: 'content'.repeat(100) });
    const plain = blobLayer({ mediaType: MediaType.OciLayer, digest: l.diffId, size: l.tar.length }, l.diffId, async () => Readable.from([l.tar]));
    const gz = gzipLayer(plain, 'oci');
    expect(gz.mediaType()).toBe(MediaType.OciLayerGzip);
    const digest = await gz.digest();
    const bytes = await collect(await gz.compressed());
    expect(sha256(bytes)).toBe(digest);
    expect(bytes.length).toBe(await gz.size());
    expect(gunzipSync(bytes)).toEqual(l.tar);
    expect(await gz.diffId()).toBe(l.diffId);
  });
});

describe('blobImage', () => {
  it('reads config and layers through the fetcher only when asked', async () => {
    const { image, store } = await makeStoreImage(await tempDir());
    const raw = await image.rawManifest();
    const fetched: string[] = [];
    const fetch = async (d: Descriptor) => {
      fetched.push(d.digest);
      return store.open(d.digest, d.size);
    };
    const img = blobImage(raw, fetch);
    expect(await img.digest()).toBe(await image.digest());
    expect((await img.manifest()).layers).toHaveLength(2);
    expect(fetched).toEqual([]);
    expect(await img.rawConfigFile()).toEqual(await image.rawConfigFile());
    const layers = await img.layers();
    expect(fetched).toHaveLength(1);
    expect(await layers[1]!.diffId()).toBe((await image.configFile()).rootfs.diff_ids[1]);
    await collect(await layers[1]!.compressed());
    expect(fetched).toHaveLength(2);
  });

  it('refuses a manifest whose layer count differs from the config', async () => {
    const { image, store } = await makeStoreImage(await tempDir());
    const m = await image.manifest();
    m.layers.pop();
    const img = blobImage(Buffer.from(JSON.stringify(m)), (d) => store.open(d.digest, d.size));
    await expect(img.layers()).rejects.toMatchObject({ code: 'BAD_IMAGE' });
  });

  it('verifiedBlob errors on corrupted content', async () => {
    const data = Buffer.from('abc');
    const s = verifiedBlob(Readable.from([Buffer.from('abd')]), { mediaType: 'x', digest: sha256(data), size: 3 }, 'test');
    await expect(collect(s)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    const ok = verifiedBlob(Readable.from([data]), { mediaType: 'x', digest: sha256(data), size: 3 }, 'test');
    expect(await collect(ok)).toEqual(data);
  });
});
