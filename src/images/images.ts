import { HoistError } from '../errors.js';
import {
  DockerArchive,
  OciArchive,
  OciLayout,
  parseReference,
  type BlobStore,
  type Digest,
  type Image,
  type ImageSink,
  type ImageSource,
  type Platform,
  type Reference,
  type StoredImage,
} from '../oci/index.js';
import { RegistryError, RegistrySink, RegistrySource, type RegistryClient } from '../../registry/index.js';
import type { TransferReporter } from '../oci/progress.js';
import { formatImageLocation, type ImageLocation } from './image-location.js';

/** What reading or writing images needs: a blob store, a registry client, the platform to pick. */
export interface ImageAccess {
  store: BlobStore;
  /** Created on first use: local-only commands never touch the network. */
  registry: () => RegistryClient;
  platform: Platform;
  /**
   * Keep registry blobs in the store (builds reuse them). Copying verbs turn
   * this off: a blob then streams, verified, from the registry straight into
   * its destination, written once and hashed once on each side.
   */
  cacheBlobs?: boolean;
  signal?: AbortSignal | undefined;
  /** Told how registry downloads and uploads progress. */
  onProgress?: TransferReporter | undefined;
}

/** Local transports are sources and sinks alike. */
function localSource(loc: Extract<ImageLocation, { kind: 'oci-layout' | 'oci-archive' }>): OciLayout | OciArchive;
function localSource(loc: Exclude<ImageLocation, { kind: 'registry' }>): ImageSource & ImageSink;
function localSource(loc: Exclude<ImageLocation, { kind: 'registry' }>): ImageSource & ImageSink {
  switch (loc.kind) {
    case 'oci-layout':
      return new OciLayout(loc.path);
    case 'oci-archive':
      return new OciArchive(loc.path);
    case 'docker-archive':
      return new DockerArchive(loc.path);
  }
}

export function registrySource(access: ImageAccess): RegistrySource {
  return new RegistrySource(access.registry(), {
    ...(access.cacheBlobs === false ? {} : { store: access.store }),
    defaultPlatform: access.platform,
    ...(access.signal ? { signal: access.signal } : {}),
    onProgress: access.onProgress,
  });
}

/** Open the image at `loc` for `access.platform` (lazily: nothing but its manifest is read until asked). */
export async function readImage(loc: ImageLocation, access: ImageAccess): Promise<Image> {
  try {
    if (loc.kind === 'registry') return await registrySource(access).image(loc.ref, access.platform);
    return await localSource(loc).image(loc.tag, access.platform);
  } catch (err) {
    throw located(err, loc);
  }
}

/** What `loc` holds as stored: an index stays an index (what crane digest/manifest/copy see). */
export async function readStored(loc: ImageLocation, access: ImageAccess): Promise<StoredImage> {
  try {
    if (loc.kind === 'registry') return await registrySource(access).stored(loc.ref);
    if (loc.kind === 'docker-archive') return { kind: 'image', image: await new DockerArchive(loc.path).image(loc.tag) };
    return await localSource(loc).stored(loc.tag);
  } catch (err) {
    throw located(err, loc);
  }
}

/**
 * Name the location in an error that does not already, keeping what the
 * error is: a RegistryError keeps its class, HTTP status and OCI error codes.
 */
function located(err: unknown, loc: ImageLocation): unknown {
  const where = formatImageLocation(loc);
  if (!(err instanceof HoistError) || err.message.includes(where)) return err;
  const message = `${where}: ${err.message}`;
  const hint = err.hint ? { hint: err.hint } : {};
  if (err instanceof RegistryError) {
    return new RegistryError(err.code as ConstructorParameters<typeof RegistryError>[0], message, {
      ...hint,
      ...(err.status !== undefined ? { status: err.status } : {}),
      ociErrors: err.ociErrors,
      cause: err,
    });
  }
  return new HoistError(err.code, message, { ...hint, cause: err });
}

/**
 * The names an image gets at `loc`: a registry reference as is; for a local
 * destination `PATH:TAG`, TAG as a full reference when it looks like one,
 * otherwise the source's repository with that tag.
 */
export function destinationRefs(loc: ImageLocation, source: ImageLocation | undefined): Reference[] {
  if (loc.kind === 'registry') return [loc.ref];
  if (loc.tag === undefined) return source?.kind === 'registry' ? [source.ref] : [];
  if (loc.tag.includes('/') || loc.tag.includes(':') || loc.tag.includes('@')) return [parseReference(loc.tag)];
  const base = source?.kind === 'registry' ? source.ref : parseReference('localhost/image');
  return [base.withTag(loc.tag)];
}

export function imageSink(loc: ImageLocation, access: ImageAccess): ImageSink {
  const signal = access.signal ? { signal: access.signal } : {};
  if (loc.kind === 'registry') return new RegistrySink(access.registry(), { ...signal, onProgress: access.onProgress });
  return loc.kind === 'oci-layout' ? new OciLayout(loc.path, signal) : loc.kind === 'oci-archive' ? new OciArchive(loc.path, signal) : new DockerArchive(loc.path, signal);
}

/**
 * The manifest bytes at `loc`: as stored (an index stays an index, as crane
 * digest and crane manifest show it), or with `onePlatform` the manifest of
 * the image for `access.platform`.
 */
export async function readManifest(loc: ImageLocation, access: ImageAccess, onePlatform: boolean): Promise<{ raw: Buffer; digest: Digest }> {
  if (onePlatform) {
    const image = await readImage(loc, access);
    return { raw: await image.rawManifest(), digest: await image.digest() };
  }
  const stored = await readStored(loc, access);
  const it = stored.kind === 'image' ? stored.image : stored.index;
  return { raw: await it.rawManifest(), digest: await it.digest() };
}
