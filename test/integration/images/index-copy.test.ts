/**
 * Multi-platform images through the crane-style library, against a real
 * registry and real OCI layouts/archives: digest and manifest show what is
 * stored (the index), copy moves the whole index unless one platform is
 * chosen, and skopeo reads back the same bytes.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RegistryClient, RegistryError } from '../../../registry/index.js';
import { anonymousKeychain } from '../../../registry/keychain/index.js';
import { parseImageLocation } from '../../../src/images/image-location.js';
import { readImage, readManifest, type ImageAccess } from '../../../src/images/images.js';
import { copyImage } from '../../../src/images/transfer.js';
import { BlobStore, MediaType, parsePlatform, type Index, type Platform } from '../../../src/oci/index.js';
import { ensureDebianPackages, pushTestImage, startRegistry, type PushedTestImage, type RunningRegistry } from '../../helpers/registry/index.js';

const run = promisify(execFile);

async function skopeoRaw(location: string): Promise<Buffer> {
  const { stdout } = await run('skopeo', ['--insecure-policy', 'inspect', '--raw', '--tls-verify=false', location], {
    encoding: 'buffer',
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

let reg: RunningRegistry;
let dir: string;
let pushed: PushedTestImage;
let dockerList: PushedTestImage;
const clients: RegistryClient[] = [];

function access(platform: Platform = parsePlatform('linux/amd64')): ImageAccess {
  return {
    store: new BlobStore(join(dir, 'store')),
    registry: () => {
      const c = new RegistryClient({ keychain: anonymousKeychain(), retry: { baseDelayMs: 10, maxDelayMs: 50 } });
      clients.push(c);
      return c;
    },
    platform,
    cacheBlobs: false,
  };
}

beforeAll(async () => {
  await ensureDebianPackages(['skopeo']);
  reg = await startRegistry();
  dir = await mkdtemp(join(tmpdir(), 'hoist-index-copy-'));
  pushed = await pushTestImage(reg, 'src/multi', 'v1', { platforms: ['linux/amd64', 'linux/arm64/v8'] });
  dockerList = await pushTestImage(reg, 'src/list', 'v1', { platforms: ['linux/amd64', 'linux/arm/v7'], dockerMediaTypes: true });
});
afterAll(async () => {
  for (const c of clients) await c.close();
  await reg?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('digest and manifest of an index', () => {
  test('give the index as stored, or with a platform that platform\'s manifest', async () => {
    const loc = parseImageLocation(`${reg.host}/src/multi:v1`);
    const stored = await readManifest(loc, access(), false);
    expect(stored.digest).toBe(pushed.indexDigest);
    expect(stored.raw).toEqual(pushed.image.index!.bytes);
    const arm = await readManifest(loc, access(parsePlatform('linux/arm64')), true);
    expect(arm.digest).toBe(pushed.manifests[1]!.digest);
    expect(arm.digest).not.toBe(pushed.indexDigest);
  });
});

describe('copy of an index', () => {
  test('registry -> registry copies every platform: same digest, same index for skopeo, every manifest there', async () => {
    const to = `${reg.host}/dst/multi:v1`;
    const digest = await copyImage(`${reg.host}/src/multi:v1`, to, access());
    expect(digest).toBe(pushed.indexDigest);
    expect(await skopeoRaw(`docker://${to}`)).toEqual(pushed.image.index!.bytes);
    for (const m of pushed.manifests) {
      expect(sha256(await skopeoRaw(`docker://${reg.host}/dst/multi@${m.digest}`))).toBe(m.digest);
    }
    // Each platform's image is complete: its blobs were copied too.
    const arm = await readImage(parseImageLocation(to), access(parsePlatform('linux/arm64/v8')));
    expect(await arm.digest()).toBe(pushed.manifests[1]!.digest);
    for (const l of await arm.layers()) for await (const _ of await l.compressed()); // verified download
  });

  test('a Docker manifest list keeps its media type and bytes', async () => {
    const to = `${reg.host}/dst/list:v1`;
    expect(await copyImage(`${reg.host}/src/list:v1`, to, access())).toBe(dockerList.indexDigest);
    const raw = await skopeoRaw(`docker://${to}`);
    expect(raw).toEqual(dockerList.image.index!.bytes);
    expect((JSON.parse(raw.toString()) as Index).mediaType).toBe(MediaType.DockerManifestList);
  });

  test('registry -> oci-layout -> oci-archive -> registry keeps the index digest; skopeo reads each', async () => {
    const layout = join(dir, 'layout');
    expect(await copyImage(`${reg.host}/src/multi:v1`, `oci-layout:${layout}:v1`, access())).toBe(pushed.indexDigest);
    const indexJson = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as Index;
    expect(indexJson.manifests).toHaveLength(1);
    expect(indexJson.manifests[0]).toMatchObject({ mediaType: MediaType.OciIndex, digest: pushed.indexDigest });
    expect(indexJson.manifests[0]!.platform).toBeUndefined();
    expect(await skopeoRaw(`oci:${layout}:v1`)).toEqual(pushed.image.index!.bytes);
    // skopeo copies every platform out of it: every blob is in the layout.
    await run('skopeo', ['--insecure-policy', 'copy', '--all', `oci:${layout}:v1`, `oci:${join(dir, 'skopeo-check')}:v1`]);

    const archive = join(dir, 'multi.tar');
    expect(await copyImage(`oci-layout:${layout}:v1`, `oci-archive:${archive}`, access())).toBe(pushed.indexDigest);
    expect(await skopeoRaw(`oci-archive:${archive}`)).toEqual(pushed.image.index!.bytes);
    expect((await readManifest(parseImageLocation(`oci-archive:${archive}`), access(), false)).digest).toBe(pushed.indexDigest);

    const back = `${reg.host}/back/multi:v1`;
    expect(await copyImage(`oci-archive:${archive}`, back, access())).toBe(pushed.indexDigest);
    expect(await skopeoRaw(`docker://${back}`)).toEqual(pushed.image.index!.bytes);
  });

  test('with a platform, one image is copied', async () => {
    const to = `${reg.host}/dst/one:v1`;
    const digest = await copyImage(`${reg.host}/src/multi:v1`, to, access(parsePlatform('linux/arm64')), { onePlatform: true });
    expect(digest).toBe(pushed.manifests[1]!.digest);
    expect(sha256(await skopeoRaw(`docker://${to}`))).toBe(pushed.manifests[1]!.digest);
  });

  test('a docker-archive destination holds one image: the platform asked for', async () => {
    const file = join(dir, 'docker.tar');
    await copyImage(`${reg.host}/src/multi:v1`, `docker-archive:${file}:multi:v1`, access(parsePlatform('linux/arm64')));
    const image = await readImage(parseImageLocation(`docker-archive:${file}`), access(parsePlatform('linux/arm64')));
    expect((await image.configFile()).architecture).toBe('arm64');
  });
});

describe('registry errors through readImage', () => {
  test('keep their class, HTTP status and OCI codes, and name the location', async () => {
    const one = await pushTestImage(reg, 'src/broken', 'v1');
    const del = await fetch(`${reg.url}/v2/src/broken/blobs/${one.configDigest}`, { method: 'DELETE' });
    expect(del.status).toBe(202);
    const where = `${reg.host}/src/broken:v1`;
    const err = await readImage(parseImageLocation(where), access()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    const e = err as RegistryError;
    expect(e.status).toBe(404);
    expect(e.code).toBe('REGISTRY_NOT_FOUND');
    expect(e.ociErrors.map((o) => o.code)).toContain('BLOB_UNKNOWN');
    expect(e.message.startsWith(`${where}: `)).toBe(true);
    expect(e.message).toContain('BLOB_UNKNOWN');
    expect(e.message).toContain('404');
    expect(e.hint).toBeDefined();
  });
});
