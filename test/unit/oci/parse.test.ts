import { describe, expect, it } from 'vitest';
import { HoistError } from '../../../src/errors.js';
import { serializeConfigFile, serializeIndex, serializeManifest } from '../../../src/oci/canonical-json.js';
import { MediaType, layerMediaTypeFor, layerCompression, isDistributable } from '../../../src/oci/media-types.js';
import { parseConfigFile, parseIndex, parseManifest, parseManifestDocument } from '../../../src/oci/parse.js';
import { sha256 } from './fixtures.js';

const D1 = sha256('one');
const D2 = sha256('two');

const manifestJson = {
  schemaVersion: 2,
  mediaType: MediaType.OciManifest,
  config: { mediaType: MediaType.OciConfig, size: 7, digest: D1 },
  layers: [{ mediaType: MediaType.OciLayerGzip, size: 10, digest: D2, annotations: { z: '1', a: '2' } }],
  annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
  unknownField: true,
};

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof HoistError ? err.code : 'not-a-HoistError';
  }
  return undefined;
}

describe('parseManifest', () => {
  it('parses a valid manifest and drops unknown fields', () => {
    const m = parseManifest(JSON.stringify(manifestJson));
    expect(m.layers[0]?.digest).toBe(D2);
    expect(m.config.size).toBe(7);
    expect('unknownField' in m).toBe(false);
  });

  it.each([
    ['not JSON', '{'],
    ['an array', '[]'],
    ['schema 1', JSON.stringify({ ...manifestJson, schemaVersion: 1 })],
    ['missing config', JSON.stringify({ ...manifestJson, config: undefined })],
    ['layers not an array', JSON.stringify({ ...manifestJson, layers: {} })],
    ['bad digest', JSON.stringify({ ...manifestJson, config: { ...manifestJson.config, digest: 'sha256:abc' } })],
    ['md5 digest', JSON.stringify({ ...manifestJson, config: { ...manifestJson.config, digest: `md5:${'a'.repeat(32)}` } })],
    ['negative size', JSON.stringify({ ...manifestJson, config: { ...manifestJson.config, size: -1 } })],
    ['fractional size', JSON.stringify({ ...manifestJson, config: { ...manifestJson.config, size: 1.5 } })],
    ['annotation not a string', JSON.stringify({ ...manifestJson, annotations: { a: 1 } })],
    ['an index', JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] })],
  ])('rejects %s with BAD_MANIFEST', (_name, raw) => {
    expect(codeOf(() => parseManifest(raw))).toBe('BAD_MANIFEST');
  });

  it('names the bad field', () => {
    const raw = JSON.stringify({ ...manifestJson, layers: [{ ...manifestJson.layers[0], digest: 'nope' }] });
    expect(() => parseManifest(raw)).toThrow(/layers\[0\]\.digest/);
  });
});

describe('parseIndex / parseManifestDocument', () => {
  const index = {
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: [{ mediaType: MediaType.OciManifest, size: 5, digest: D1, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } }],
  };

  it('parses an index with platforms', () => {
    expect(parseIndex(JSON.stringify(index)).manifests[0]?.platform).toEqual({ architecture: 'arm64', os: 'linux', variant: 'v8' });
  });

  it('tells manifest from index by mediaType, content type, or shape', () => {
    expect(parseManifestDocument(JSON.stringify(index)).kind).toBe('index');
    expect(parseManifestDocument(JSON.stringify(manifestJson)).kind).toBe('manifest');
    const { mediaType: _m, ...bare } = index;
    expect(parseManifestDocument(JSON.stringify(bare)).kind).toBe('index');
    const doc = parseManifestDocument(JSON.stringify(bare), MediaType.DockerManifestList);
    expect(doc).toMatchObject({ kind: 'index', mediaType: MediaType.DockerManifestList });
    expect(codeOf(() => parseManifestDocument('{}', MediaType.DockerManifestSchema1Signed))).toBe('BAD_MANIFEST');
  });
});

describe('parseConfigFile', () => {
  const config = {
    architecture: 'amd64',
    os: 'linux',
    created: '2024-01-01T00:00:00Z',
    config: {
      Env: ['A=1'],
      Cmd: null,
      ExposedPorts: { '80/tcp': {} },
      Healthcheck: { Test: ['CMD', 'true'], Interval: 30_000_000_000 },
      ArgsEscaped: true,
      Hostname: 'dropped',
    },
    rootfs: { type: 'layers', diff_ids: [D1, D2] },
    history: [{ created_by: 'x', empty_layer: true }],
    container_config: { Cmd: ['dropped'] },
  };

  it('parses a Docker-style config, treating null as absent', () => {
    const c = parseConfigFile(JSON.stringify(config));
    expect(c.config?.Cmd).toBeUndefined();
    expect(c.config?.ExposedPorts).toEqual({ '80/tcp': {} });
    expect(c.config?.Healthcheck?.Interval).toBe(30_000_000_000);
    expect(c.rootfs.diff_ids).toEqual([D1, D2]);
    expect(c.history?.[0]?.empty_layer).toBe(true);
  });

  it.each([
    ['missing rootfs', { ...config, rootfs: undefined }],
    ['rootfs type', { ...config, rootfs: { type: 'other', diff_ids: [] } }],
    ['bad diff_id', { ...config, rootfs: { type: 'layers', diff_ids: ['x'] } }],
    ['missing os', { ...config, os: undefined }],
    ['Env not strings', { ...config, config: { Env: [1] } }],
    ['history not array', { ...config, history: {} }],
  ])('rejects %s with BAD_CONFIG', (_name, value) => {
    expect(codeOf(() => parseConfigFile(JSON.stringify(value)))).toBe('BAD_CONFIG');
  });
});

describe('canonical JSON', () => {
  it('writes manifest keys in spec order, sorts map keys, no whitespace or newline', () => {
    const raw = serializeManifest(parseManifest(JSON.stringify(manifestJson))).toString();
    expect(raw).toBe(
      `{"schemaVersion":2,"mediaType":"${MediaType.OciManifest}","config":{"mediaType":"${MediaType.OciConfig}","digest":"${D1}","size":7},` +
        `"layers":[{"mediaType":"${MediaType.OciLayerGzip}","digest":"${D2}","size":10,"annotations":{"a":"2","z":"1"}}],` +
        `"annotations":{"org.opencontainers.image.created":"2024-01-01T00:00:00Z"}}`,
    );
  });

  it('is stable under key reordering of the input', () => {
    const a = parseConfigFile(JSON.stringify({ os: 'linux', architecture: 'amd64', rootfs: { diff_ids: [], type: 'layers' }, config: { Labels: { b: '1', a: '2' }, User: 'u' } }));
    const b = parseConfigFile(JSON.stringify({ config: { User: 'u', Labels: { a: '2', b: '1' } }, rootfs: { type: 'layers', diff_ids: [] }, architecture: 'amd64', os: 'linux' }));
    expect(serializeConfigFile(a)).toEqual(serializeConfigFile(b));
    expect(serializeConfigFile(a).toString()).toBe(
      '{"architecture":"amd64","os":"linux","config":{"User":"u","Labels":{"a":"2","b":"1"}},"rootfs":{"type":"layers","diff_ids":[]}}',
    );
  });

  it('round-trips an index', () => {
    const idx = { schemaVersion: 2 as const, manifests: [{ mediaType: MediaType.OciManifest, digest: D1, size: 3 }] };
    expect(parseIndex(serializeIndex(idx))).toEqual(idx);
  });
});

describe('media types', () => {
  it('maps layer types between families and knows compression', () => {
    expect(layerMediaTypeFor('oci', MediaType.DockerLayerGzip)).toBe(MediaType.OciLayerGzip);
    expect(layerMediaTypeFor('docker', MediaType.OciLayer)).toBe(MediaType.DockerLayer);
    expect(layerMediaTypeFor('docker', MediaType.OciLayerZstd)).toBe(MediaType.OciLayerZstd);
    expect(layerCompression(MediaType.DockerForeignLayer)).toBe('gzip');
    expect(layerCompression(MediaType.OciConfig)).toBeUndefined();
    expect(isDistributable(MediaType.DockerForeignLayer)).toBe(false);
    expect(isDistributable(MediaType.OciLayerGzip)).toBe(true);
  });
});
