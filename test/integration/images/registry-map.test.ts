/**
 * Kaniko's --registry-mirror and --registry-map (issue 10): an image of a
 * mapped registry is read from its mirrors first, then from the original
 * registry unless --skip-default-registry-fallback; two real registries
 * stand in for a mirror and the original.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient, RegistrySource } from '../../../registry/index.js';
import { anonymousKeychain } from '../../../registry/keychain/index.js';
import { mirroredSource, parseRegistryMap, remapReference } from '../../../src/images/registry-map.js';
import { parseReference } from '../../../src/oci/index.js';
import { pushTestImage, startRegistry, type RunningRegistry } from '../../helpers/registry/index.js';

describe('registry mirrors and maps', () => {
  it("reads Kaniko's flag syntax; Docker Hub's names are one registry", () => {
    const map = parseRegistryMap(['index.docker.io=a.example.com;quay.io=b.example.com/quay', 'quay.io=c.example.com'], ['mirror.gcr.io']);
    expect([...map]).toEqual([
      ['docker.io', ['a.example.com', 'mirror.gcr.io']],
      ['quay.io', ['b.example.com/quay', 'c.example.com']],
    ]);
    expect(() => parseRegistryMap(['quay.io'], [])).toThrow(/expected REGISTRY=MIRROR/);
    expect(remapReference(parseReference('alpine:3.20'), 'mirror.gcr.io').string()).toBe('mirror.gcr.io/library/alpine:3.20');
    expect(remapReference(parseReference('quay.io/org/app@sha256:' + 'a'.repeat(64)), 'b.example.com/quay').string()).toBe(`b.example.com/quay/org/app@sha256:${'a'.repeat(64)}`);
  });

  let mirror: RunningRegistry;
  let origin: RunningRegistry;
  let client: RegistryClient;
  beforeAll(async () => {
    [mirror, origin] = await Promise.all([startRegistry(), startRegistry()]);
    await pushTestImage(origin, 'team/base', '1', { layers: 1, layerSize: 256 });
    await pushTestImage(mirror, 'cache/team/prefixed', '1', { layers: 1, layerSize: 256, seed: 'mirror' });
    await pushTestImage(origin, 'team/prefixed', '1', { layers: 1, layerSize: 256, seed: 'origin' });
    client = new RegistryClient({ keychain: anonymousKeychain(), retry: { baseDelayMs: 10, maxDelayMs: 50 } });
  }, 120_000);
  afterAll(async () => {
    await client?.close();
    await Promise.all([mirror?.stop(), origin?.stop()]);
  });

  const source = (skipFallback: boolean, warnings: string[]) =>
    mirroredSource({
      map: parseRegistryMap([`${origin.host}=${mirror.host}/cache`], []),
      skipFallback,
      sourceFor: () => new RegistrySource(client),
      onWarning: (m) => warnings.push(m),
    });

  it('reads the image from the mirror when the mirror has it', async () => {
    const warnings: string[] = [];
    const image = await source(false, warnings).image(`${origin.host}/team/prefixed:1`);
    expect((await image.configFile()).config?.Labels?.['org.hoist.test']).toBe('cache/team/prefixed:1');
    expect(warnings).toEqual([]);
  });

  it('falls back to the original registry, with a warning, when the mirror has not got it', async () => {
    const warnings: string[] = [];
    const image = await source(false, warnings).image(`${origin.host}/team/base:1`);
    expect((await image.configFile()).config?.Labels?.['org.hoist.test']).toBe('team/base:1');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`${mirror.host}/cache`);
  });

  it('with --skip-default-registry-fallback, an image on no mirror is an error naming the mirrors', async () => {
    await expect(source(true, []).image(`${origin.host}/team/base:1`)).rejects.toMatchObject({ code: 'IMAGE_NOT_ON_MIRRORS' });
  });

  it('leaves registries without mirrors alone', async () => {
    const image = await mirroredSource({ map: parseRegistryMap([`other.example.com=${mirror.host}`], []), sourceFor: () => new RegistrySource(client) }).image(`${origin.host}/team/base:1`);
    expect((await image.configFile()).config?.Labels?.['org.hoist.test']).toBe('team/base:1');
  });
});
