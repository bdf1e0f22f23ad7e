/**
 * RegistrySource: images read from a registry. An index (or Docker manifest
 * list) is resolved to one platform; the Image is lazy: only the manifest
 * and the config are fetched by `image()`, layers when they are read (or
 * all at once, with a bound, by `prefetch`).
 */
import {
  isIndexMediaType,
  parseIndex,
  parseReference,
  selectPlatformManifest,
  type BlobStore,
  type Image,
  type ImageSource,
  type Platform,
  type Reference,
} from '../src/oci/index.js';
import { largestFirst, mapLimit } from '../src/oci/parallel.js';
import type { RegistryClient } from './client.js';
import { RegistryError } from './errors.js';
import { RemoteBlobs, remoteImage } from './remote-image.js';

export interface RegistrySourceOptions {
  /** Where blobs are downloaded to (verified) and read from. Without one, blobs stream from the registry each time. */
  store?: BlobStore;
  /** The platform chosen from an index when `image()` is given none (the CLI passes linux/amd64 or the host's). */
  defaultPlatform?: Platform;
  signal?: AbortSignal;
}

/** Nested indexes are legal but rare; this bounds the walk. */
const MAX_INDEX_DEPTH = 4;

export class RegistrySource implements ImageSource {
  private readonly origins = new WeakMap<Image, RemoteBlobs>();

  constructor(
    private readonly client: RegistryClient,
    private readonly options: RegistrySourceOptions = {},
  ) {}

  async image(ref?: Reference | string, platform?: Platform): Promise<Image> {
    if (ref === undefined) {
      throw new RegistryError('REGISTRY_PROTOCOL', 'a registry source needs an image reference', {
        hint: 'name the image, e.g. docker.io/library/busybox:latest',
      });
    }
    const reference = typeof ref === 'string' ? parseReference(ref) : ref;
    const want = platform ?? this.options.defaultPlatform;
    const signal = this.options.signal ? { signal: this.options.signal } : {};
    let current = reference;
    let fetched = await this.client.getManifest(current, undefined, signal);
    for (let depth = 0; isIndexMediaType(fetched.mediaType); depth++) {
      if (depth >= MAX_INDEX_DEPTH) {
        throw new RegistryError('REGISTRY_PROTOCOL', `${reference.string()}: indexes nested more than ${MAX_INDEX_DEPTH} deep`);
      }
      const index = parseIndex(fetched.raw);
      const chosen = selectPlatformManifest(index.manifests, want, reference.string());
      current = reference.repository().withDigest(chosen.digest);
      fetched = await this.client.getManifest(current, undefined, signal);
    }
    const blobs = new RemoteBlobs(this.client, reference.repository(), this.options.store, this.options.signal);
    const img = remoteImage(fetched.raw, fetched.mediaType, blobs);
    await img.rawConfigFile(); // fetched up front: a bad image fails here, not mid-build
    this.origins.set(img, blobs);
    return img;
  }

  /** Download every layer of an image from this source into the store, `client.concurrency` at a time. */
  async prefetch(img: Image): Promise<void> {
    const blobs = this.origins.get(img);
    if (blobs === undefined) {
      throw new RegistryError('REGISTRY_PROTOCOL', 'prefetch: the image was not read from this registry source');
    }
    if (blobs.store === undefined) return;
    const { layers } = await img.manifest();
    await mapLimit(
      largestFirst(layers, (desc) => desc.size),
      this.client.concurrency,
      (desc) => blobs.ensure(desc),
    );
  }
}
