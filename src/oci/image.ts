/**
 * Images: the lazy interface, sources and sinks, and the two ways to make an
 * image: from parts (a config and layers; the manifest is computed when asked,
 * like go-containerregistry's mutate) and from an existing manifest whose
 * blobs a fetcher can open (layouts, archives, registries).
 */
import type { Readable } from 'node:stream';
import { HoistError } from '../errors.js';
import { serializeConfigFile, serializeManifest } from './canonical-json.js';
import { sha256Digest, verified, type Digest } from './digest.js';
import { blobLayer, withMediaType, type Layer } from './layer.js';
import {
  configMediaType,
  layerMediaTypeFor,
  manifestMediaType,
  MediaType,
  type MediaTypeFamily,
} from './media-types.js';
import { memo } from './memo.js';
import { parseConfigFile, parseManifest } from './parse.js';
import { readBounded } from './read-bounded.js';
import type { Reference } from './reference.js';
import type { Annotations, ConfigFile, Descriptor, Manifest, Platform } from './types.js';

export interface Image {
  manifest(): Promise<Manifest>;
  /** The exact manifest bytes; `digest()` is their sha256. */
  rawManifest(): Promise<Buffer>;
  digest(): Promise<Digest>;
  /** The manifest's media type (OCI or Docker schema2). */
  mediaType(): Promise<string>;
  configFile(): Promise<ConfigFile>;
  /** The exact config bytes; the manifest's config descriptor digests these. */
  rawConfigFile(): Promise<Buffer>;
  layers(): Promise<Layer[]>;
}

/**
 * Anything an image can be read from. `ref` selects the image: a Reference
 * for registries; for local layouts and archives a Reference or a ref name
 * string, or nothing when the source holds exactly one image.
 */
export interface ImageSource {
  image(ref?: Reference | string, platform?: Platform): Promise<Image>;
}

/** Anything an image can be written to. Returns the manifest digest written. */
export interface ImageSink {
  write(img: Image, refs: readonly Reference[]): Promise<Digest>;
  /**
   * A blob the image written to `refs` will have, known before the image
   * is: the sink may start sending it now (a registry upload while the
   * build goes on). Never fails: `write` sends whatever this did not.
   */
  sendAhead?(refs: readonly Reference[], desc: Descriptor, open: () => Promise<Readable>, signal?: AbortSignal): void;
  /**
   * A blob the image will have, still being written (a layer while it is
   * compressed): the sink may send its bytes as they come and finish once
   * its descriptor is known. Never fails: `write` sends whatever this did
   * not. A sink that has no use for it calls `blob.discard()`.
   */
  sendGrowing?(refs: readonly Reference[], blob: GrowingBlob, signal?: AbortSignal): void;
  /** Whether blobs for `refs` are worth sending while they are written (sendGrowing); else they go once stored (sendAhead). */
  streamsTo?(refs: readonly Reference[]): boolean;
}

/** A blob being written: its bytes as they are written (once), and its descriptor once it is complete. */
export interface GrowingBlob {
  /**
   * The bytes from the first, as the writer writes them; fails if the
   * writer fails. At most once. The call claims the blob: its caller then
   * reads the result to its end or calls `discard()` (both is fine).
   */
  chunks(): AsyncIterable<Buffer>;
  /** Settles when the blob is complete and stored (rejects if it never is). */
  descriptor: Promise<Descriptor>;
  /** Not read after all: its resources go. */
  discard(): void;
}

/**
 * Opens a blob named by a descriptor. The stream must already be verified
 * against the descriptor's digest and size (see {@link verifiedBlob}).
 */
export type BlobFetcher = (descriptor: Descriptor) => Promise<Readable>;

/** Wrap an unverified blob stream so it errors on digest or size mismatch. */
export function verifiedBlob(stream: Readable, descriptor: Descriptor, where: string): Readable {
  return verified(stream, { digest: descriptor.digest, size: descriptor.size }, `blob ${descriptor.digest} in ${where}`);
}

/** Pair manifest layer descriptors with config diff_ids, refusing a mismatch. */
function layersOf(manifest: Manifest, config: ConfigFile, fetch: BlobFetcher): Layer[] {
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== manifest.layers.length) {
    throw new HoistError(
      'BAD_IMAGE',
      `image manifest lists ${manifest.layers.length} layers but its config lists ${diffIds.length} diff_ids`,
    );
  }
  return manifest.layers.map((desc, i) => blobLayer(desc, diffIds[i] as Digest, () => fetch(desc)));
}

/**
 * An image from an existing manifest. The manifest bytes are kept exactly;
 * the config and layers are opened through `fetch` only when asked.
 */
export function blobImage(rawManifest: Buffer, fetch: BlobFetcher, descriptorMediaType?: string): Image {
  const manifest = memo(async () => parseManifest(rawManifest));
  const rawConfigFile = memo(async () => {
    const m = await manifest();
    return readBounded(await fetch(m.config), `config ${m.config.digest}`);
  });
  const configFile = memo(async () => parseConfigFile(await rawConfigFile()));
  return {
    manifest: async () => structuredClone(await manifest()),
    rawManifest: async () => rawManifest,
    digest: async () => sha256Digest(rawManifest),
    mediaType: async () => (await manifest()).mediaType ?? descriptorMediaType ?? MediaType.OciManifest,
    configFile: async () => structuredClone(await configFile()),
    rawConfigFile,
    layers: memo(async () => layersOf(await manifest(), await configFile(), fetch)),
  };
}

export interface ImageParts {
  /** The config as a value (serialized canonically) or as exact bytes to keep. */
  config: ConfigFile | Buffer;
  layers: readonly Layer[];
  /** Which media type family the manifest uses. Default 'oci'. */
  mediaTypes?: MediaTypeFamily;
  annotations?: Annotations;
}

/**
 * An image built from a config and layers. The manifest is computed on first
 * ask and memoized; layer media types are mapped to the manifest's family.
 * The config's diff_ids must match the layers' diffIDs, in order.
 */
export function imageFromParts(parts: ImageParts): Image {
  const family = parts.mediaTypes ?? 'oci';
  const rawConfig = Buffer.isBuffer(parts.config) ? parts.config : serializeConfigFile(parts.config);
  const configFile = memo(async () => (Buffer.isBuffer(parts.config) ? parseConfigFile(rawConfig) : structuredClone(parts.config)));
  const layers = parts.layers.map((l) => withMediaType(l, layerMediaTypeFor(family, l.mediaType())));

  const manifest = memo(async (): Promise<Manifest> => {
    const config = await configFile();
    const diffIds = config.rootfs.diff_ids;
    const layerDiffIds = await Promise.all(layers.map((l) => l.diffId()));
    if (diffIds.length !== layers.length || diffIds.some((d, i) => d !== layerDiffIds[i])) {
      throw new HoistError(
        'BAD_IMAGE',
        `config rootfs.diff_ids [${diffIds.join(', ')}] do not match the layers' diffIDs [${layerDiffIds.join(', ')}]`,
      );
    }
    const descriptors = await Promise.all(
      layers.map(async (l): Promise<Descriptor> => ({ mediaType: l.mediaType(), digest: await l.digest(), size: await l.size() })),
    );
    const m: Manifest = {
      schemaVersion: 2,
      mediaType: manifestMediaType(family),
      config: { mediaType: configMediaType(family), digest: sha256Digest(rawConfig), size: rawConfig.length },
      layers: descriptors,
    };
    if (parts.annotations !== undefined && Object.keys(parts.annotations).length > 0) m.annotations = { ...parts.annotations };
    return m;
  });
  const rawManifest = memo(async () => serializeManifest(await manifest()));

  return {
    manifest: async () => structuredClone(await manifest()),
    rawManifest,
    digest: async () => sha256Digest(await rawManifest()),
    mediaType: async () => manifestMediaType(family),
    configFile: async () => structuredClone(await configFile()),
    rawConfigFile: async () => rawConfig,
    layers: async () => [...layers],
  };
}

/** The descriptor of an image's manifest, as an index or index.json entry lists it. */
export async function manifestDescriptor(img: Image): Promise<Descriptor> {
  const raw = await img.rawManifest();
  return { mediaType: await img.mediaType(), digest: sha256Digest(raw), size: raw.length };
}

/** The image's platform, from its config. */
export async function imagePlatform(img: Image): Promise<Platform> {
  const c = await img.configFile();
  const p: Platform = { architecture: c.architecture, os: c.os };
  if (c['os.version'] !== undefined) p['os.version'] = c['os.version'];
  if (c.variant !== undefined) p.variant = c.variant;
  return p;
}
