/**
 * Reading a `docker save` tarball (classic `<id>/layer.tar`, containers/image
 * `<hex>.tar`, or Docker 25+ `blobs/sha256/<hex>` with symlinks) as a lazy
 * image. Layers may be plain or compressed tars; each is recognised by its
 * magic bytes. Nothing but headers is read until a layer is asked for.
 *
 * The archive holds no manifest, so one is synthesized. By default plain
 * layers are served gzip-compressed in a Docker schema2 manifest (as crane
 * does); `layers: 'as-is'` keeps the tars as they are, in an OCI manifest.
 */
import { HoistError } from '../errors.js';
import { sniffCompression } from './compression.js';
import { isDigest, sha256Digest, type Digest } from './digest.js';
import type { DockerArchiveManifestEntry } from './docker-archive-write.js';
import { imageFromParts, verifiedBlob, type Image } from './image.js';
import { gzipLayer, measure, uncompressLayerStream, type Layer } from './layer.js';
import { layerMediaType, type Compression, type MediaTypeFamily } from './media-types.js';
import { memo } from './memo.js';
import { parseConfigFile } from './parse.js';
import { platformMatches, formatPlatform } from './platform.js';
import { tryParseReference, type Reference } from './reference.js';
import type { TarIndex } from './tar-index.js';
import type { Platform } from './types.js';

export type LayerPresentation = 'gzip' | 'as-is';

function bad(file: string, why: string): HoistError {
  return new HoistError('BAD_ARCHIVE', `${file} is not a valid docker archive: ${why}`, {
    hint: 'expected the output of `docker save` (a tar with manifest.json)',
  });
}

export function parseArchiveManifest(raw: Buffer, file: string): DockerArchiveManifestEntry[] {
  let data: unknown;
  try {
    data = JSON.parse(raw.toString('utf8'));
  } catch {
    throw bad(file, 'manifest.json is not JSON');
  }
  if (!Array.isArray(data)) throw bad(file, 'manifest.json is not an array');
  return data.map((e: unknown, i) => {
    const o = (typeof e === 'object' && e !== null ? e : {}) as Record<string, unknown>;
    const strings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');
    if (typeof o.Config !== 'string') throw bad(file, `manifest.json[${i}].Config is not a string`);
    if (!strings(o.Layers)) throw bad(file, `manifest.json[${i}].Layers is not a list of paths`);
    if (o.RepoTags !== undefined && o.RepoTags !== null && !strings(o.RepoTags)) {
      throw bad(file, `manifest.json[${i}].RepoTags is not a list of strings`);
    }
    return { Config: o.Config, RepoTags: (o.RepoTags as string[] | null | undefined) ?? [], Layers: o.Layers };
  });
}

function tagMatches(tag: string, ref: Reference): boolean {
  return tryParseReference(tag)?.string() === ref.string();
}

/** Pick the manifest.json entry a selector names: a RepoTag, a reference, or the image ID. */
export function selectArchiveEntry(
  entries: readonly DockerArchiveManifestEntry[],
  selector: Reference | string | undefined,
  file: string,
): DockerArchiveManifestEntry {
  const listing = entries.map((e) => (e.RepoTags ?? []).join(' ') || e.Config).join(', ') || 'nothing';
  if (selector === undefined) {
    const [only] = entries;
    if (only !== undefined && entries.length === 1) return only;
    throw new HoistError('IMAGE_NOT_FOUND', `${file} holds ${entries.length} images (${listing}); say which one`, {
      hint: 'name the image, e.g. docker-archive:FILE:busybox:latest',
    });
  }
  let found: DockerArchiveManifestEntry | undefined;
  if (typeof selector === 'string') {
    const id = isDigest(selector) ? selector.slice(selector.indexOf(':') + 1) : undefined;
    found =
      entries.find((e) => (e.RepoTags ?? []).includes(selector)) ??
      (id === undefined ? undefined : entries.find((e) => e.Config.includes(id)));
    if (found === undefined && id === undefined) {
      const ref = tryParseReference(selector);
      if (ref !== undefined) found = entries.find((e) => (e.RepoTags ?? []).some((t) => tagMatches(t, ref)));
    }
  } else {
    found = entries.find((e) => (e.RepoTags ?? []).some((t) => tagMatches(t, selector)));
  }
  if (found === undefined) {
    const shown = typeof selector === 'string' ? selector : selector.familiarString();
    throw new HoistError('IMAGE_NOT_FOUND', `${file} has no image ${JSON.stringify(shown)} (it has: ${listing})`);
  }
  return found;
}

/** A layer read from an archive member, plain or compressed. */
async function archiveLayer(
  tar: TarIndex,
  path: string,
  diffId: Digest,
  family: MediaTypeFamily,
): Promise<{ layer: Layer; compression: Compression }> {
  const member = tar.require(path);
  const compression = sniffCompression(await tar.head(path, 4));
  const where = `${path} in ${tar.file}`;
  const mediaType = layerMediaType(family, compression);
  if (compression === 'none') {
    const open = async () => verifiedBlob(tar.open(path), { mediaType, digest: diffId, size: member.size }, where);
    const layer: Layer = {
      digest: async () => diffId,
      diffId: async () => diffId,
      size: async () => member.size,
      mediaType: () => mediaType,
      compressed: open,
      uncompressed: open,
    };
    return { layer, compression };
  }
  // The archive does not record a compressed layer's digest: hash it once, on first ask.
  const measured = memo(() => measure(async () => tar.open(path)));
  const layer: Layer = {
    digest: async () => (await measured()).digest,
    diffId: async () => diffId,
    size: async () => member.size,
    mediaType: () => mediaType,
    compressed: async () => verifiedBlob(tar.open(path), { mediaType, digest: (await measured()).digest, size: member.size }, where),
    uncompressed: async () => uncompressLayerStream(tar.open(path), compression, diffId),
  };
  return { layer, compression };
}

export async function readDockerArchiveImage(
  tar: TarIndex,
  selector: Reference | string | undefined,
  platform: Platform | undefined,
  presentation: LayerPresentation,
): Promise<Image> {
  const file = tar.file;
  if (tar.get('manifest.json') === undefined) {
    throw bad(file, 'no manifest.json (archives from docker older than 1.10 are not supported)');
  }
  const entry = selectArchiveEntry(parseArchiveManifest(await tar.readFile('manifest.json'), file), selector, file);
  const rawConfig = await tar.readFile(entry.Config);
  const named = /([a-f0-9]{64})(?:\.json)?$/.exec(entry.Config);
  if (named !== null && sha256Digest(rawConfig) !== `sha256:${named[1]}`) {
    throw new HoistError('DIGEST_MISMATCH', `${entry.Config} in ${file} does not hash to the digest in its name`);
  }
  const config = parseConfigFile(rawConfig);
  if (platform !== undefined && !platformMatches(platform, config)) {
    throw new HoistError(
      'PLATFORM_NOT_FOUND',
      `${file} holds a ${formatPlatform(config)} image, not ${formatPlatform(platform)}`,
    );
  }
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== entry.Layers.length) {
    throw bad(file, `manifest.json lists ${entry.Layers.length} layers but the config lists ${diffIds.length} diff_ids`);
  }
  const family: MediaTypeFamily = presentation === 'gzip' ? 'docker' : 'oci';
  const layers = await Promise.all(
    entry.Layers.map(async (path, i) => {
      const { layer, compression } = await archiveLayer(tar, path, diffIds[i] as Digest, family);
      return presentation === 'gzip' && compression === 'none' ? gzipLayer(layer, family) : layer;
    }),
  );
  return imageFromParts({ config: rawConfig, layers, mediaTypes: family });
}
