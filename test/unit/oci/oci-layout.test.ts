import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { serializeIndex } from '../../../src/oci/canonical-json.js';
import type { Image } from '../../../src/oci/image.js';
import { REF_NAME_ANNOTATION } from '../../../src/oci/layout-index.js';
import { MediaType } from '../../../src/oci/media-types.js';
import { OciLayout } from '../../../src/oci/oci-layout.js';
import { parsePlatform } from '../../../src/oci/platform.js';
import { parseReference } from '../../../src/oci/reference.js';
import type { Index, Manifest } from '../../../src/oci/types.js';
import { collect, makeStoreImage, sha256, testConfig, useTempDirs } from './fixtures.js';

const tempDir = useTempDirs();

interface LayoutView {
  layoutFile: unknown;
  index: Index;
  blob(digest: string): Promise<Buffer>;
}

/** Independent reader of a layout directory: plain fs + JSON.parse, checks every blob's name is its sha256. */
async function readLayoutDir(dir: string): Promise<LayoutView> {
  const layoutFile: unknown = JSON.parse(await readFile(join(dir, 'oci-layout'), 'utf8'));
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as Index;
  for (const name of await readdir(join(dir, 'blobs', 'sha256'))) {
    expect(sha256(await readFile(join(dir, 'blobs', 'sha256', name)))).toBe(`sha256:${name}`);
  }
  return { layoutFile, index, blob: (d) => readFile(join(dir, 'blobs', 'sha256', d.slice(7))) };
}

/** Check an image's manifest, config and layers independently: digests, sizes, diffIDs. */
async function checkImageBlobs(view: LayoutView, manifestDigest: string, expectedTars: Buffer[]): Promise<void> {
  const manifest = JSON.parse((await view.blob(manifestDigest)).toString()) as Manifest;
  const config = JSON.parse((await view.blob(manifest.config.digest)).toString()) as { rootfs: { diff_ids: string[] } };
  expect(manifest.layers).toHaveLength(expectedTars.length);
  for (const [i, d] of manifest.layers.entries()) {
    const blob = await view.blob(d.digest);
    expect(blob.length).toBe(d.size);
    const tar = gunzipSync(blob);
    expect(tar).toEqual(expectedTars[i]);
    expect(sha256(tar)).toBe(config.rootfs.diff_ids[i]);
  }
}

async function expectSameImage(a: Image, b: Image): Promise<void> {
  expect(await a.digest()).toBe(await b.digest());
  expect(await a.rawConfigFile()).toEqual(await b.rawConfigFile());
  const [la, lb] = [await a.layers(), await b.layers()];
  expect(lb).toHaveLength(la.length);
  for (const [i, l] of la.entries()) {
    expect(await collect(await lb[i]!.uncompressed())).toEqual(await collect(await l.uncompressed()));
  }
}

describe('OciLayout', () => {
  it('writes a layout that an independent reader and the OciLayout source both read back', async () => {
    const dir = await tempDir();
    const { image, layers } = await makeStoreImage(dir);
    const out = join(dir, 'layout');
    const digest = await new OciLayout(out).write(image, [parseReference('foo:latest')]);
    expect(digest).toBe(await image.digest());

    const view = await readLayoutDir(out);
    expect(view.layoutFile).toEqual({ imageLayoutVersion: '1.0.0' });
    expect(view.index.schemaVersion).toBe(2);
    expect(view.index.manifests).toHaveLength(1);
    const entry = view.index.manifests[0]!;
    expect(entry).toMatchObject({ mediaType: MediaType.OciManifest, digest, platform: { os: 'linux', architecture: 'amd64' } });
    expect(entry.annotations?.[REF_NAME_ANNOTATION]).toBe('latest');
    await checkImageBlobs(view, digest, layers.map((l) => l.tar));

    const layout = new OciLayout(out);
    await expectSameImage(image, await layout.image('latest'));
    await expectSameImage(image, await layout.image(parseReference('foo')));
    await expectSameImage(image, await layout.image());
  });

  it('adds to an existing layout, replacing only entries with the same ref name', async () => {
    const dir = await tempDir();
    const one = await makeStoreImage(join(dir, 'a'));
    const two = await makeStoreImage(join(dir, 'b'), { files: [{ 'two.txt': '2' }] });
    const out = join(dir, 'layout');
    const layout = new OciLayout(out);
    await layout.write(one.image, [parseReference('foo:latest'), parseReference('foo:v1')]);
    await layout.write(two.image, [parseReference('foo:latest')]);

    const view = await readLayoutDir(out);
    const byName = Object.fromEntries(view.index.manifests.map((d) => [d.annotations?.[REF_NAME_ANNOTATION], d.digest]));
    expect(byName).toEqual({ v1: await one.image.digest(), latest: await two.image.digest() });
    await checkImageBlobs(view, await one.image.digest(), one.layers.map((l) => l.tar));
    await checkImageBlobs(view, await two.image.digest(), two.layers.map((l) => l.tar));
    expect(await (await layout.image('latest')).digest()).toBe(await two.image.digest());
    await expect(layout.image()).rejects.toMatchObject({ code: 'IMAGE_NOT_FOUND' });

    // Writing the same image again with no name does not duplicate it.
    await layout.write(two.image, []);
    await layout.write(two.image, []);
    expect((await layout.index()).manifests).toHaveLength(3);
  });

  it('writing an image it already holds under the same names changes no file (a no-op rebuild)', async () => {
    const dir = await tempDir();
    const { image } = await makeStoreImage(join(dir, 'a'));
    const out = join(dir, 'layout');
    const layout = new OciLayout(out);
    const refs = [parseReference('foo:latest')];
    await layout.write(image, refs);
    const files = async () => {
      const names = ['index.json', ...(await readdir(join(out, 'blobs', 'sha256'))).map((n) => join('blobs', 'sha256', n))];
      return Object.fromEntries(await Promise.all(names.map(async (n) => [n, (await stat(join(out, n))).ino] as const)));
    };
    const before = await files();
    await layout.write(image, refs);
    // The same inodes: nothing was written through a temp file and renamed over it.
    expect(await files()).toEqual(before);
    // A new name still changes index.json.
    await layout.write(image, [parseReference('foo:v2')]);
    expect((await files())['index.json']).not.toBe(before['index.json']);
    expect((await layout.index()).manifests).toHaveLength(2);
  });

  it('copies layout to layout with identical digests (source and sink are symmetric)', async () => {
    const dir = await tempDir();
    const { image } = await makeStoreImage(dir, { family: 'docker' });
    const a = new OciLayout(join(dir, 'a'));
    await a.write(image, [parseReference('x:1')]);
    const fromA = await a.image('1');
    const b = new OciLayout(join(dir, 'b'));
    expect(await b.write(fromA, [parseReference('x:1')])).toBe(await image.digest());
    await expectSameImage(image, await b.image('1'));
    expect(await (await b.image('1')).mediaType()).toBe(MediaType.DockerManifest);
  });

  it('selects a platform from a nested index', async () => {
    const dir = await tempDir();
    const amd = await makeStoreImage(join(dir, 'amd'));
    const arm = await makeStoreImage(join(dir, 'arm'), { files: [{ arm: 'yes' }] });
    const out = join(dir, 'layout');
    const layout = new OciLayout(out);
    await layout.write(amd.image, []);
    // An arm64 image: same layers as `arm`, config saying arm64.
    const { imageFromParts } = await import('../../../src/oci/image.js');
    const armImage = imageFromParts({
      config: testConfig(arm.layers.map((l) => l.diffId), { architecture: 'arm64', variant: 'v8' }),
      layers: await arm.image.layers(),
    });
    await layout.write(armImage, []);
    const entries = (await layout.index()).manifests;
    const nested: Index = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: entries };
    const nestedRaw = serializeIndex(nested);
    await writeFile(join(out, 'blobs', 'sha256', sha256(nestedRaw).slice(7)), nestedRaw);
    const top: Index = {
      schemaVersion: 2,
      manifests: [{ mediaType: MediaType.OciIndex, digest: sha256(nestedRaw), size: nestedRaw.length, annotations: { [REF_NAME_ANNOTATION]: 'multi' } }],
    };
    await writeFile(join(out, 'index.json'), serializeIndex(top));

    expect(await (await layout.image('multi', parsePlatform('linux/arm64'))).digest()).toBe(await armImage.digest());
    expect(await (await layout.image('multi', parsePlatform('linux/amd64'))).digest()).toBe(await amd.image.digest());
    await expect(layout.image('multi')).rejects.toMatchObject({ code: 'PLATFORM_REQUIRED' });
    await expect(layout.image('multi', parsePlatform('linux/ppc64le'))).rejects.toMatchObject({ code: 'PLATFORM_NOT_FOUND' });
  });

  it('detects a corrupted blob when reading', async () => {
    const dir = await tempDir();
    const { image, layers } = await makeStoreImage(dir);
    const out = join(dir, 'layout');
    await new OciLayout(out).write(image, []);
    const bad = Buffer.from(layers[1]!.gz);
    bad.writeUInt8(bad.readUInt8(bad.length - 5) ^ 0xff, bad.length - 5);
    await writeFile(join(out, 'blobs', 'sha256', layers[1]!.digest.slice(7)), bad);
    const read = await new OciLayout(out).image();
    await expect(collect(await (await read.layers())[1]!.compressed())).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
  });

  it('refuses a directory that is not a layout, or a layout of an unknown version', async () => {
    const dir = await tempDir();
    await expect(new OciLayout(dir).image()).rejects.toMatchObject({ code: 'NOT_A_LAYOUT' });
    await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"2.0.0"}');
    const { image } = await makeStoreImage(join(dir, 'src'));
    await expect(new OciLayout(dir).write(image, [])).rejects.toMatchObject({ code: 'NOT_A_LAYOUT' });
  });
});
