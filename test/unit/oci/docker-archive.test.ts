import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { DockerArchive } from '../../../src/oci/docker-archive.js';
import { repoTags } from '../../../src/oci/docker-archive-write.js';
import { MediaType } from '../../../src/oci/media-types.js';
import { OciLayout } from '../../../src/oci/oci-layout.js';
import { parsePlatform } from '../../../src/oci/platform.js';
import { parseReference } from '../../../src/oci/reference.js';
import { collect, makeLayer, makeStoreImage, readTar, sha256, testConfig, useTempDirs, type TestLayer } from './fixtures.js';

const tempDir = useTempDirs();

interface Member {
  name: string;
  data?: Buffer;
  symlink?: string;
}

/** Build a tar file by hand, as other tools would. */
async function writeTarFile(file: string, members: Member[]): Promise<void> {
  const pack = tar.pack();
  const done = collect(Readable.from(pack, { objectMode: false }));
  for (const m of members) {
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null): void => (err ? reject(err) : resolve());
      if (m.symlink !== undefined) pack.entry({ name: m.name, type: 'symlink', linkname: m.symlink }, cb);
      else pack.entry({ name: m.name }, m.data ?? Buffer.alloc(0), cb);
    });
  }
  pack.finalize();
  await writeFile(file, await done);
}

describe('DockerArchive writer', () => {
  it('writes the classic docker save form, checked by an independent reader', async () => {
    const dir = await tempDir();
    const { image, layers } = await makeStoreImage(dir);
    const file = join(dir, 'docker.tar');
    const refs = [parseReference('foo'), parseReference('127.0.0.1:5000/foo:tag'), parseReference(`bar@${sha256('x')}`)];
    expect(await new DockerArchive(file).write(image, refs)).toBe(await image.digest());

    const members = await readTar(file);
    const manifest = JSON.parse(members.get('manifest.json')!.data.toString()) as { Config: string; RepoTags: string[]; Layers: string[] }[];
    expect(manifest).toHaveLength(1);
    const entry = manifest[0]!;
    expect(entry.RepoTags).toEqual(['foo:latest', '127.0.0.1:5000/foo:tag']);
    const rawConfig = members.get(entry.Config)!.data;
    expect(entry.Config).toBe(`${sha256(rawConfig).slice(7)}.json`);
    expect(rawConfig).toEqual(await image.rawConfigFile());
    const config = JSON.parse(rawConfig.toString()) as { rootfs: { diff_ids: string[] } };
    expect(entry.Layers).toHaveLength(2);
    for (const [i, path] of entry.Layers.entries()) {
      expect(path).toMatch(/^[a-f0-9]{64}\/layer\.tar$/);
      const layerTar = members.get(path)!.data;
      expect(layerTar).toEqual(layers[i]!.tar); // uncompressed
      expect(sha256(layerTar)).toBe(config.rootfs.diff_ids[i]);
      const id = path.split('/')[0]!;
      expect(members.get(`${id}/VERSION`)!.data.toString()).toBe('1.0');
      expect(JSON.parse(members.get(`${id}/json`)!.data.toString())).toMatchObject({ id });
    }
    const top = entry.Layers[1]!.split('/')[0];
    expect(JSON.parse(members.get('repositories')!.data.toString())).toEqual({
      foo: { latest: top },
      '127.0.0.1:5000/foo': { tag: top },
    });
  });

  it('writes a layer that appears twice under two directories', async () => {
    const dir = await tempDir();
    const { image, layers } = await makeStoreImage(dir, { files: [{ same: '1' }, { same: '1' }] });
    const file = join(dir, 'docker.tar');
    await new DockerArchive(file).write(image, []);
    const members = await readTar(file);
    const entry = (JSON.parse(members.get('manifest.json')!.data.toString()) as { Layers: string[]; RepoTags: string[] }[])[0]!;
    expect(entry.RepoTags).toEqual([]);
    expect(new Set(entry.Layers).size).toBe(2);
    for (const p of entry.Layers) expect(members.get(p)!.data).toEqual(layers[0]!.tar);
    expect(members.has('repositories')).toBe(false);
  });

  it('leaves no partial archive or spool file on failure', async () => {
    const dir = await tempDir();
    const { image, store, layers } = await makeStoreImage(join(dir, 'src'));
    await store.delete(layers[1]!.digest);
    await expect(new DockerArchive(join(dir, 'out.tar')).write(image, [])).rejects.toMatchObject({ code: 'BLOB_NOT_FOUND' });
    expect(await readdir(dir)).toEqual(['src']);
  });

  it('repoTags: familiar name:tag, no digest-only references, no duplicates', () => {
    expect(
      repoTags([
        parseReference('docker.io/library/busybox:1'),
        parseReference('busybox:1'),
        parseReference('localhost:5000/a/b'),
        parseReference(`x:1@${sha256('d')}`),
      ]),
    ).toEqual(['busybox:1', 'localhost:5000/a/b:latest', 'x:1']);
  });
});

describe('DockerArchive reader', () => {
  it('round-trips: reads what it wrote, serving gzip layers in a Docker manifest by default', async () => {
    const dir = await tempDir();
    const { image, layers } = await makeStoreImage(dir);
    const file = join(dir, 'docker.tar');
    await new DockerArchive(file).write(image, [parseReference('foo:latest'), parseReference('127.0.0.1:5000/foo:tag')]);

    const read = await new DockerArchive(file).image();
    expect(await read.rawConfigFile()).toEqual(await image.rawConfigFile());
    const m = await read.manifest();
    expect(m.mediaType).toBe(MediaType.DockerManifest);
    expect(m.layers.map((l) => l.mediaType)).toEqual([MediaType.DockerLayerGzip, MediaType.DockerLayerGzip]);
    const readLayers = await read.layers();
    for (const [i, l] of readLayers.entries()) {
      const gz = await collect(await l.compressed());
      expect(sha256(gz)).toBe(m.layers[i]!.digest);
      expect(gunzipSync(gz)).toEqual(layers[i]!.tar);
      expect(await collect(await l.uncompressed())).toEqual(layers[i]!.tar);
    }
    const configDigest = (await image.manifest()).config.digest;
    for (const sel of ['foo:latest', 'foo', '127.0.0.1:5000/foo:tag', configDigest]) {
      expect(await (await new DockerArchive(file).image(sel)).rawConfigFile()).toEqual(await image.rawConfigFile());
    }
    await new DockerArchive(file).image(parseReference('docker.io/library/foo:latest'));
    await expect(new DockerArchive(file).image('bar')).rejects.toMatchObject({ code: 'IMAGE_NOT_FOUND' });
    await expect(new DockerArchive(file).image(undefined, parsePlatform('linux/arm64'))).rejects.toMatchObject({ code: 'PLATFORM_NOT_FOUND' });
  });

  it("layers: 'as-is' keeps plain tars in an OCI manifest (digest = diffID)", async () => {
    const dir = await tempDir();
    const { image, layers } = await makeStoreImage(dir);
    const file = join(dir, 'docker.tar');
    await new DockerArchive(file).write(image, []);
    const read = await new DockerArchive(file, { layers: 'as-is' }).image();
    const m = await read.manifest();
    expect(m.mediaType).toBe(MediaType.OciManifest);
    expect(m.layers.map((l) => l.digest)).toEqual(layers.map((l) => l.diffId));
    expect(m.layers.map((l) => l.mediaType)).toEqual([MediaType.OciLayer, MediaType.OciLayer]);
  });

  async function dockerNewStyle(file: string, ls: TestLayer[], gzipped: boolean): Promise<Buffer> {
    const config = Buffer.from(JSON.stringify(testConfig(ls.map((l) => l.diffId))));
    const blobs = ls.map((l) => (gzipped ? l.gz : l.tar));
    await writeTarFile(file, [
      { name: 'blobs/' },
      ...blobs.map((b) => ({ name: `blobs/sha256/${sha256(b).slice(7)}`, data: b })),
      { name: `blobs/sha256/${sha256(config).slice(7)}`, data: config },
      // Docker 25+ also keeps legacy paths as symlinks into blobs/.
      { name: 'legacyid/layer.tar', symlink: `../blobs/sha256/${sha256(blobs[0]!).slice(7)}` },
      {
        name: 'manifest.json',
        data: Buffer.from(
          JSON.stringify([
            {
              Config: `blobs/sha256/${sha256(config).slice(7)}`,
              RepoTags: ['new:style'],
              Layers: ['legacyid/layer.tar', ...blobs.slice(1).map((b) => `blobs/sha256/${sha256(b).slice(7)}`)],
            },
          ]),
        ),
      },
    ]);
    return config;
  }

  it('reads Docker 25+ archives (blobs/sha256 paths, symlinked legacy paths)', async () => {
    const dir = await tempDir();
    const ls = [await makeLayer({ a: '1' }), await makeLayer({ b: '2' })];
    const file = join(dir, 'new.tar');
    const config = await dockerNewStyle(file, ls, false);
    const read = await new DockerArchive(file).image('new:style');
    expect(await read.rawConfigFile()).toEqual(config);
    const readLayers = await read.layers();
    for (const [i, l] of readLayers.entries()) expect(await collect(await l.uncompressed())).toEqual(ls[i]!.tar);
  });

  it('reads archives whose layer tars are gzip-compressed, verifying diffIDs', async () => {
    const dir = await tempDir();
    const ls = [await makeLayer({ a: '1' }), await makeLayer({ b: '2' })];
    const file = join(dir, 'gz.tar');
    await dockerNewStyle(file, ls, true);
    const read = await new DockerArchive(file).image();
    const m = await read.manifest();
    expect(m.layers.map((l) => l.digest)).toEqual(ls.map((l) => l.digest));
    expect(m.layers.map((l) => l.size)).toEqual(ls.map((l) => l.gz.length));
    const readLayers = await read.layers();
    for (const [i, l] of readLayers.entries()) {
      expect(await collect(await l.compressed())).toEqual(ls[i]!.gz);
      expect(await collect(await l.uncompressed())).toEqual(ls[i]!.tar);
    }
  });

  it('refuses a config whose content does not match its name, and a layer count mismatch', async () => {
    const dir = await tempDir();
    const ls = [await makeLayer({ a: '1' })];
    const config = Buffer.from(JSON.stringify(testConfig([ls[0]!.diffId])));
    const bad = join(dir, 'bad.tar');
    await writeTarFile(bad, [
      { name: `${'0'.repeat(64)}.json`, data: config },
      { name: 'l.tar', data: ls[0]!.tar },
      { name: 'manifest.json', data: Buffer.from(JSON.stringify([{ Config: `${'0'.repeat(64)}.json`, RepoTags: null, Layers: ['l.tar'] }])) },
    ]);
    await expect(new DockerArchive(bad).image()).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    const count = join(dir, 'count.tar');
    await writeTarFile(count, [
      { name: 'c.json', data: config },
      { name: 'manifest.json', data: Buffer.from(JSON.stringify([{ Config: 'c.json', RepoTags: [], Layers: [] }])) },
    ]);
    await expect(new DockerArchive(count).image()).rejects.toMatchObject({ code: 'BAD_ARCHIVE' });
    const none = join(dir, 'none.tar');
    await writeTarFile(none, [{ name: 'x', data: Buffer.from('y') }]);
    await expect(new DockerArchive(none).image()).rejects.toThrow(/no manifest.json/);
  });

  it('copies docker-archive -> OCI layout -> docker-archive keeping config and layers', async () => {
    const dir = await tempDir();
    const { image, layers } = await makeStoreImage(dir);
    const first = join(dir, 'a.tar');
    await new DockerArchive(first).write(image, [parseReference('foo:1')]);
    const layout = new OciLayout(join(dir, 'layout'));
    await layout.write(await new DockerArchive(first).image('foo:1'), [parseReference('foo:1')]);
    const second = join(dir, 'b.tar');
    await new DockerArchive(second).write(await layout.image('1'), [parseReference('foo:1')]);
    const members = await readTar(second);
    const entry = (JSON.parse(members.get('manifest.json')!.data.toString()) as { Config: string; Layers: string[] }[])[0]!;
    expect(members.get(entry.Config)!.data).toEqual(await image.rawConfigFile());
    expect(entry.Layers.map((p) => members.get(p)!.data)).toEqual(layers.map((l) => l.tar));
  });
});
