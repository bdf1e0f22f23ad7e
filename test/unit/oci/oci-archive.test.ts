import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { Image } from '../../../src/oci/image.js';
import type { Layer } from '../../../src/oci/layer.js';
import { REF_NAME_ANNOTATION } from '../../../src/oci/layout-index.js';
import { OciArchive } from '../../../src/oci/oci-archive.js';
import { parseReference } from '../../../src/oci/reference.js';
import type { Index, Manifest } from '../../../src/oci/types.js';
import { collect, makeStoreImage, readTar, sha256, useTempDirs } from './fixtures.js';

const tempDir = useTempDirs();

/** An image whose second layer's stream breaks half way. */
function breakingImage(img: Image): Image {
  return {
    ...img,
    layers: async () => {
      const layers = await img.layers();
      const broken: Layer = {
        ...layers[1]!,
        compressed: async () => {
          const data = await collect(await layers[1]!.compressed());
          async function* gen(): AsyncGenerator<Buffer> {
            yield data.subarray(0, 10);
            throw new Error('network went away');
          }
          return Readable.from(gen());
        },
      };
      return [layers[0]!, broken];
    },
  };
}

describe('OciArchive', () => {
  it('writes a tar holding an OCI layout, read back independently and by the source', async () => {
    const dir = await tempDir();
    const { image, layers } = await makeStoreImage(dir);
    const file = join(dir, 'image.tar');
    const digest = await new OciArchive(file).write(image, [parseReference('foo:1.0')]);
    expect(digest).toBe(await image.digest());

    // Independent reader: tar-stream extract, JSON.parse, sha256.
    const members = await readTar(file);
    expect(JSON.parse(members.get('oci-layout')!.data.toString())).toEqual({ imageLayoutVersion: '1.0.0' });
    const index = JSON.parse(members.get('index.json')!.data.toString()) as Index;
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0]!.digest).toBe(digest);
    expect(index.manifests[0]!.annotations?.[REF_NAME_ANNOTATION]).toBe('1.0');
    for (const [name, m] of members) {
      if (name.startsWith('blobs/sha256/') && m.type === 'file') expect(sha256(m.data)).toBe(`sha256:${name.slice(13)}`);
    }
    const manifest = JSON.parse(members.get(`blobs/sha256/${digest.slice(7)}`)!.data.toString()) as Manifest;
    const config = JSON.parse(members.get(`blobs/sha256/${manifest.config.digest.slice(7)}`)!.data.toString()) as {
      rootfs: { diff_ids: string[] };
    };
    for (const [i, d] of manifest.layers.entries()) {
      const blob = members.get(`blobs/sha256/${d.digest.slice(7)}`)!.data;
      expect(blob.length).toBe(d.size);
      expect(gunzipSync(blob)).toEqual(layers[i]!.tar);
      expect(sha256(gunzipSync(blob))).toBe(config.rootfs.diff_ids[i]);
    }

    // Production reader.
    const read = await new OciArchive(file).image('1.0');
    expect(await read.digest()).toBe(digest);
    expect(await read.rawConfigFile()).toEqual(await image.rawConfigFile());
    const readLayers = await read.layers();
    for (const [i, l] of readLayers.entries()) expect(await collect(await l.uncompressed())).toEqual(layers[i]!.tar);
    expect(await (await new OciArchive(file).image()).digest()).toBe(digest);
    expect(await (await new OciArchive(file).image(parseReference('foo:1.0'))).digest()).toBe(digest);
  });

  it('an archive holding one image under two tags is read without naming one', async () => {
    const dir = await tempDir();
    const { image } = await makeStoreImage(dir);
    const file = join(dir, 'two-tags.tar');
    const digest = await new OciArchive(file).write(image, [parseReference('app:1'), parseReference('app:latest')]);
    const index = JSON.parse((await readTar(file)).get('index.json')!.data.toString()) as Index;
    expect(index.manifests.map((d) => d.annotations?.[REF_NAME_ANNOTATION])).toEqual(['1', 'latest']);
    expect(await (await new OciArchive(file).image()).digest()).toBe(digest);
  });

  it('leaves no file, partial or temp, when writing fails', async () => {
    const dir = await tempDir();
    const { image } = await makeStoreImage(join(dir, 'src'));
    const file = join(dir, 'out.tar');
    await expect(new OciArchive(file).write(breakingImage(image), [])).rejects.toThrow('network went away');
    expect(await readdir(dir)).toEqual(['src']);
  });

  it('fails cleanly (no hang) when the output cannot be created', async () => {
    const dir = await tempDir();
    const { image } = await makeStoreImage(join(dir, 'src'));
    await expect(new OciArchive(join(dir, 'missing', 'out.tar')).write(image, [])).rejects.toMatchObject({ code: 'FS_NOT_FOUND', errno: 'ENOENT', path: join(dir, 'missing', 'out.tar') });
  });

  it('replaces an existing archive only once the new one is complete', async () => {
    const dir = await tempDir();
    const { image } = await makeStoreImage(join(dir, 'src'));
    const file = join(dir, 'out.tar');
    await writeFile(file, 'previous');
    await expect(new OciArchive(file).write(breakingImage(image), [])).rejects.toThrow();
    expect(await readFile(file, 'utf8')).toBe('previous');
    await new OciArchive(file).write(image, []);
    expect(await (await new OciArchive(file).image()).digest()).toBe(await image.digest());
    expect((await readdir(dir)).sort()).toEqual(['out.tar', 'src']);
  });

  it('detects a corrupted blob inside the archive', async () => {
    const dir = await tempDir();
    const { image, layers } = await makeStoreImage(dir);
    const file = join(dir, 'image.tar');
    await new OciArchive(file).write(image, []);
    const bytes = await readFile(file);
    const at = bytes.indexOf(layers[1]!.gz);
    expect(at).toBeGreaterThan(0);
    bytes.writeUInt8(bytes.readUInt8(at + 20) ^ 0xff, at + 20);
    await writeFile(file, bytes);
    const read = await new OciArchive(file).image();
    await expect(collect(await (await read.layers())[1]!.compressed())).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
  });

  it('gives clear errors for a missing file, a non-tar, and a tar that is not a layout', async () => {
    const dir = await tempDir();
    await expect(new OciArchive(join(dir, 'nope.tar')).image()).rejects.toMatchObject({ code: 'ARCHIVE_NOT_FOUND' });
    await writeFile(join(dir, 'junk.tar'), Buffer.alloc(2048, 0x41));
    await expect(new OciArchive(join(dir, 'junk.tar')).image()).rejects.toMatchObject({ code: 'BAD_ARCHIVE' });
    const { image } = await makeStoreImage(join(dir, 'src'));
    const { DockerArchive } = await import('../../../src/oci/docker-archive.js');
    await new DockerArchive(join(dir, 'docker.tar')).write(image, []);
    await expect(new OciArchive(join(dir, 'docker.tar')).image()).rejects.toMatchObject({ code: 'NOT_A_LAYOUT' });
  });
});
