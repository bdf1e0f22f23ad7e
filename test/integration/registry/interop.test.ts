/**
 * skopeo as an oracle: what skopeo copies into a registry, hoist pulls with
 * the same digests; what hoist pushes, skopeo inspects and copies out with
 * the same digests.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RegistryClient, RegistrySink, RegistrySource } from '../../../registry/index.js';
import { anonymousKeychain } from '../../../registry/keychain/index.js';
import { BlobStore, MediaType, parseReference } from '../../../src/oci/index.js';
import { buildTestImage, ensureDebianPackages, startRegistry, writeTestOciLayout, type RunningRegistry } from '../../helpers/registry/index.js';
import { makeImage, readAll } from './images.js';

const run = promisify(execFile);
let reg: RunningRegistry;
let dir: string;
const clients: RegistryClient[] = [];

function client(): RegistryClient {
  const c = new RegistryClient({ keychain: anonymousKeychain() });
  clients.push(c);
  return c;
}

async function skopeo(...args: string[]): Promise<string> {
  const { stdout } = await run('skopeo', ['--insecure-policy', ...args], { maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

beforeAll(async () => {
  await ensureDebianPackages(['skopeo']);
  reg = await startRegistry();
  dir = await mkdtemp(join(tmpdir(), 'hoist-interop-'));
});
afterAll(async () => {
  for (const c of clients) await c.close();
  await reg?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('skopeo -> registry -> hoist', () => {
  test('a single image: hoist pulls what skopeo pushed, digests agree', async () => {
    const image = await buildTestImage('interop/in', 'v1', { layers: 2, layerSize: 30_000 });
    const layout = join(dir, 'in-layout');
    await writeTestOciLayout(layout, image, 'v1');
    await skopeo('copy', '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${reg.host}/interop/in:v1`);
    const raw = await skopeo('inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/interop/in:v1`);
    const skopeoDigest = `sha256:${createHash('sha256').update(raw).digest('hex')}`;

    const store = new BlobStore(join(dir, 'store-in'));
    const source = new RegistrySource(client(), { store });
    const img = await source.image(parseReference(`${reg.host}/interop/in:v1`));
    expect(await img.digest()).toBe(skopeoDigest);
    expect(await img.digest()).toBe(image.manifests[0]!.digest);
    await source.prefetch(img);
    const layers = await img.layers();
    for (const [i, l] of layers.entries()) {
      expect(await l.digest()).toBe(image.manifests[0]!.layers[i]!.digest);
      await readAll(await l.uncompressed()); // verified against the diffID
    }
  });

  test('a multi-platform image copied with --all: hoist picks each platform', async () => {
    const image = await buildTestImage('interop/multi', 'v1', { platforms: ['linux/amd64', 'linux/arm64/v8'] });
    const layout = join(dir, 'multi-layout');
    await writeTestOciLayout(layout, image, 'v1');
    await skopeo('copy', '--all', '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${reg.host}/interop/multi:v1`);
    const ref = parseReference(`${reg.host}/interop/multi:v1`);
    const c = client();
    expect((await c.getManifest(ref)).digest).toBe(image.index!.digest);
    for (const m of image.manifests) {
      const img = await new RegistrySource(c).image(ref, m.platform);
      expect(await img.digest()).toBe(m.digest);
    }
  });
});

describe('hoist -> registry -> skopeo', () => {
  test('skopeo inspects and copies out what hoist pushed, digests agree', async () => {
    const { img } = await makeImage('interop-out', 100_000);
    const ref = parseReference(`${reg.host}/interop/out:v1`);
    const digest = await new RegistrySink(client()).write(img, [ref]);

    const raw = await skopeo('inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/interop/out:v1`);
    expect(`sha256:${createHash('sha256').update(raw).digest('hex')}`).toBe(digest);
    const info = JSON.parse(await skopeo('inspect', '--tls-verify=false', `docker://${reg.host}/interop/out:v1`)) as {
      Digest: string;
      Layers: string[];
      Labels: Record<string, string>;
    };
    expect(info.Digest).toBe(digest);
    expect(info.Layers).toEqual(await Promise.all((await img.layers()).map((l) => l.digest())));
    expect(info.Labels.label).toBe('interop-out');

    const out = join(dir, 'out-layout');
    await skopeo('copy', '--src-tls-verify=false', `docker://${reg.host}/interop/out:v1`, `oci:${out}:v1`);
    const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as { manifests: { digest: string; mediaType: string }[] };
    expect(index.manifests[0]?.digest).toBe(digest);
    expect(index.manifests[0]?.mediaType).toBe(MediaType.OciManifest);
  });
});
