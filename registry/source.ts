/**
 * RegistrySource: images read from a registry. An index (or Docker manifest
 * list) is resolved to one platform by `image()`, or kept whole by
 * `stored()` (for copying it as is); the Image is lazy: only the manifest
 * and the config are fetched by `image()`, layers when they are read (or
 * all at once, with a bound, by `prefetch`).
 */
import {
  blobIndex,
  isIndexMediaType,
  parseIndex,
  parseReference,
  selectPlatformManifest,
  type BlobStore,
  type Descriptor,
  type Image,
  type ImageSource,
  type Platform,
  type Reference,
  type StoredImage,
  type StoredImageSource,
} from '../src/oci/index.js';
import { largestFirst, mapLimit } from '../src/oci/parallel.js';
import type { TransferReporter } from '../src/oci/progress.js';
import type { RegistryClient } from './client.js';
import { RegistryError } from './errors.js';
import { RemoteBlobs, remoteImage } from './remote-image.js';

export interface RegistrySourceOptions {
  /** Where blobs are downloaded to (verified) and read from. Without one, blobs stream from the registry each time. */
  store?: BlobStore;
  /** The platform chosen from an index when `image()` is given none (the CLI passes linux/amd64 or the host's). */
  defaultPlatform?: Platform;
  signal?: AbortSignal;
  /** Told how blob downloads progress. */
  onProgress?: TransferReporter | undefined;
}

/** Nested indexes are legal but rare; this bounds the walk. */
const MAX_INDEX_DEPTH = 4;

export class RegistrySource implements ImageSource, StoredImageSource {
  private readonly origins = new WeakMap<Image, RemoteBlobs>();

  constructor(
    private readonly client: RegistryClient,
    private readonly options: RegistrySourceOptions = {},
  ) {}

  async image(ref?: Reference | string, platform?: Platform): Promise<Image> {
    const reference = this.reference(ref);
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
    const blobs = new RemoteBlobs(this.client, reference.repository(), this.options.store, this.options.signal, this.options.onProgress);
    const img = remoteImage(fetched.raw, fetched.mediaType, blobs);
    await img.rawConfigFile(); // fetched up front: a bad image fails here, not mid-build
    this.origins.set(img, blobs);
    return img;
  }

  /** What `ref` names as stored: an index stays an index (its manifests are fetched when walked). */
  async stored(ref?: Reference | string): Promise<StoredImage> {
    const reference = this.reference(ref);
    const signal = this.options.signal ? { signal: this.options.signal } : {};
    const fetched = await this.client.getManifest(reference, undefined, signal);
    const blobs = new RemoteBlobs(this.client, reference.repository(), this.options.store, this.options.signal, this.options.onProgress);
    if (!isIndexMediaType(fetched.mediaType)) {
      const image = remoteImage(fetched.raw, fetched.mediaType, blobs);
      this.origins.set(image, blobs);
      return { kind: 'image', image };
    }
    const manifestBytes = async (desc: Descriptor): Promise<Buffer> =>
      (await this.client.getManifest(reference.repository().withDigest(desc.digest), undefined, signal)).raw;
    return { kind: 'index', index: blobIndex(fetched.raw, fetched.mediaType, manifestBytes, (desc) => blobs.open(desc)) };
  }

  private reference(ref: Reference | string | undefined): Reference {
    if (ref === undefined) {
      throw new RegistryError('REGISTRY_PROTOCOL', 'a registry source needs an image reference', {
        hint: 'name the image, e.g. docker.io/library/busybox:latest',
      });
    }
    return typeof ref === 'string' ? parseReference(ref) : ref;
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
