/**
 * Map-typed fields are written in Go's encoding/json order (keys sorted by
 * their UTF-8 bytes) whatever the keys look like: integer-like keys, which
 * a JS object enumerates first, and `__proto__`, which assignment drops.
 */
import { describe, expect, it } from 'vitest';
import { serializeConfigFile, serializeManifest } from '../../../src/oci/canonical-json.js';
import { parseConfigFile } from '../../../src/oci/parse.js';
import type { ConfigFile, Manifest } from '../../../src/oci/types.js';
import { buildImage, makeContext } from '../../helpers/build.js';

/** The order Go's sort.Strings gives, written out by hand. */
const GO_ORDER = ['10', '9', '__proto__', 'a', 'é', '\uFFFD', '\u{1F600}'];

function configWith(labels: string): Buffer {
  return Buffer.from(
    `{"architecture":"amd64","os":"linux","config":{"Labels":${labels}},"rootfs":{"type":"layers","diff_ids":[]}}`,
    'utf8',
  );
}

describe('canonical JSON of map-typed fields', () => {
  it('sorts label keys by their UTF-8 bytes and keeps __proto__, through parse and serialize', () => {
    const shuffled = `{${[...GO_ORDER].reverse().map((k, i) => `${JSON.stringify(k)}:"${i}"`).join(',')}}`;
    const config = parseConfigFile(configWith(shuffled));
    const text = serializeConfigFile(config).toString('utf8');
    const keys = [...text.matchAll(/"((?:[^"\\]|\\.)*)":"\d"/g)].map((m) => JSON.parse(`"${m[1]}"`) as string);
    expect(keys).toEqual(GO_ORDER);
    // Values stay with their keys.
    const reparsed = JSON.parse(text) as ConfigFile;
    expect(Object.getOwnPropertyDescriptor(reparsed.config?.Labels, '__proto__')?.value).toBe(String(GO_ORDER.length - 1 - 2));
  });

  it('writes annotations of a manifest the same way', () => {
    const manifest: Manifest = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'0'.repeat(64)}`, size: 2 },
      layers: [],
      annotations: { b: '1', '2': '2', '10': '3' },
    };
    expect(serializeManifest(manifest).toString()).toMatch(/"annotations":\{"10":"3","2":"2","b":"1"\}\}$/);
  });

  it('LABEL keeps a __proto__ key and integer-like keys in a built image', async () => {
    const { image } = await buildImage('FROM scratch\nLABEL b=1 10=x 9=y __proto__=p\n', makeContext({}));
    const raw = JSON.stringify(image.config);
    expect(raw).toContain('"__proto__":"p"');
    const labels = image.config.config?.Labels ?? {};
    expect(Object.keys(labels).sort()).toEqual(['10', '9', '__proto__', 'b']);
  });
});
