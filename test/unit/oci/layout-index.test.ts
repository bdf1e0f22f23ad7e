import { describe, expect, it } from 'vitest';
import {
  CONTAINERD_NAME_ANNOTATION,
  indexEntries,
  mergeIndex,
  REF_NAME_ANNOTATION,
  selectIndexEntry,
} from '../../../src/oci/layout-index.js';
import { MediaType } from '../../../src/oci/media-types.js';
import { formatPlatform, parsePlatform, platformMatches, selectPlatformManifest } from '../../../src/oci/platform.js';
import { parseReference } from '../../../src/oci/reference.js';
import type { Descriptor, Index } from '../../../src/oci/types.js';
import { sha256 } from './fixtures.js';

const A = { mediaType: MediaType.OciManifest, digest: sha256('a'), size: 1 };
const B = { mediaType: MediaType.OciManifest, digest: sha256('b'), size: 2 };
const linux = { os: 'linux', architecture: 'amd64' };

describe('index.json entries', () => {
  it('names an entry by tag and by full reference', () => {
    const [e] = indexEntries(A, linux, [parseReference('localhost:5000/foo:1.0')]);
    expect(e?.annotations).toEqual({ [REF_NAME_ANNOTATION]: '1.0', [CONTAINERD_NAME_ANNOTATION]: 'localhost:5000/foo:1.0' });
    expect(e?.platform).toEqual(linux);
    expect(indexEntries(A, undefined, [])).toEqual([A]);
    const [d] = indexEntries(A, undefined, [parseReference(`foo@${sha256('x')}`)]);
    expect(d?.annotations?.[REF_NAME_ANNOTATION]).toBeUndefined();
  });

  it('merges: same ref name replaced, other entries kept in order, unnamed deduplicated by digest', () => {
    const existing: Index = {
      schemaVersion: 2,
      manifests: [
        ...indexEntries(A, linux, [parseReference('foo:latest'), parseReference('foo:old')]),
        A,
        { ...B, annotations: { other: 'x' } },
      ],
    };
    const merged = mergeIndex(existing, [...indexEntries(B, linux, [parseReference('foo:latest')]), A]);
    const names = merged.manifests.map((d) => `${d.annotations?.[REF_NAME_ANNOTATION] ?? '-'}@${d.digest.slice(7, 11)}`);
    expect(names).toEqual([`old@${A.digest.slice(7, 11)}`, `-@${B.digest.slice(7, 11)}`, `latest@${B.digest.slice(7, 11)}`, `-@${A.digest.slice(7, 11)}`]);
    expect(merged.mediaType).toBe(MediaType.OciIndex);
  });

  const index: Index = {
    schemaVersion: 2,
    manifests: [
      ...indexEntries(A, linux, [parseReference('foo:latest')]),
      ...indexEntries(B, linux, [parseReference('example.com/bar:2')]),
      { ...A, annotations: { [REF_NAME_ANNOTATION]: 'skopeo-tag' } },
    ],
  };

  it.each([
    ['latest', A],
    ['skopeo-tag', A],
    ['docker.io/library/foo:latest', A],
    ['foo', A],
    ['foo:latest', A],
    ['example.com/bar:2', B],
    [B.digest, B],
  ])('selects %s', (selector, want) => {
    expect(selectIndexEntry(index, selector, 'test').digest).toBe(want.digest);
  });

  it('selects by Reference, falling back to a tag-only ref name', () => {
    expect(selectIndexEntry(index, parseReference('example.com/bar:2'), 'test').digest).toBe(B.digest);
    expect(selectIndexEntry(index, parseReference('whatever:skopeo-tag'), 'test').digest).toBe(A.digest);
  });

  it('refuses a missing name, and an ambiguous layout without a name', () => {
    expect(() => selectIndexEntry(index, 'nope', 'test')).toThrow(/no image named "nope"/);
    expect(() => selectIndexEntry(index, 'bar', 'test')).toThrow(/no image named/);
    expect(() => selectIndexEntry(index, undefined, 'test')).toThrow(/holds 3 images/);
    expect(selectIndexEntry({ schemaVersion: 2, manifests: [B] }, undefined, 'test')).toEqual(B);
    const twoNames = { schemaVersion: 2 as const, manifests: indexEntries(A, linux, [parseReference('foo:1'), parseReference('foo:2')]) };
    expect(selectIndexEntry(twoNames, undefined, 'test').digest).toBe(A.digest);
  });
});

describe('platforms', () => {
  it('parses and formats', () => {
    expect(parsePlatform('linux/arm64/v8')).toEqual({ os: 'linux', architecture: 'arm64' });
    expect(parsePlatform('linux/x86_64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(formatPlatform({ os: 'linux', architecture: 'arm', variant: 'v7' })).toBe('linux/arm/v7');
    expect(() => parsePlatform('linux')).toThrow(/invalid platform/);
    expect(() => parsePlatform('linux/arm/')).toThrow(/invalid platform/);
  });

  it('matches variants the way containerd normalises them', () => {
    expect(platformMatches(parsePlatform('linux/arm64'), { os: 'linux', architecture: 'arm64', variant: 'v8' })).toBe(true);
    expect(platformMatches(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64' })).toBe(true);
    expect(platformMatches(parsePlatform('linux/arm/v6'), { os: 'linux', architecture: 'arm' })).toBe(false);
    expect(platformMatches(parsePlatform('linux/amd64'), { os: 'windows', architecture: 'amd64' })).toBe(false);
  });

  const list: Descriptor[] = [
    { ...A, platform: { os: 'linux', architecture: 'amd64' } },
    { ...B, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    { ...A, digest: sha256('att'), platform: { os: 'unknown', architecture: 'unknown' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } },
  ];

  it('selects from an index, skipping attestations', () => {
    expect(selectPlatformManifest(list, parsePlatform('linux/arm64'), 'idx').digest).toBe(B.digest);
    expect(() => selectPlatformManifest(list, parsePlatform('linux/s390x'), 'idx')).toThrow(/no image for linux\/s390x.*linux\/amd64, linux\/arm64\/v8/);
    expect(() => selectPlatformManifest(list, undefined, 'idx')).toThrow(/several platforms/);
    expect(selectPlatformManifest(list.slice(0, 1).concat(list.slice(2)), undefined, 'idx').digest).toBe(A.digest);
  });
});
