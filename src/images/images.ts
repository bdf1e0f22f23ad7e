import { HoistError } from '../errors.js';
import {
  DockerArchive,
  OciArchive,
  OciLayout,
  parseReference,
  type BlobStore,
  type Image,
  type ImageSink,
  type ImageSource,
  type Platform,
  type Reference,
} from '../oci/index.js';
import { RegistrySink, RegistrySource, type RegistryClient } from '../../registry/index.js';
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
}

/** Local transports are sources and sinks alike. */
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
  });
}

/** Open the image at `loc` (lazily: nothing but its manifest is read until asked). */
export async function readImage(loc: ImageLocation, access: ImageAccess): Promise<Image> {
  try {
    if (loc.kind === 'registry') return await registrySource(access).image(loc.ref, access.platform);
    return await localSource(loc).image(loc.tag, access.platform);
  } catch (err) {
    if (err instanceof HoistError && !err.message.includes(formatImageLocation(loc))) {
      throw new HoistError(err.code, `${formatImageLocation(loc)}: ${err.message}`, { ...(err.hint ? { hint: err.hint } : {}), cause: err });
    }
    throw err;
  }
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
  if (loc.kind === 'registry') return new RegistrySink(access.registry(), access.signal ? { signal: access.signal } : {});
  return localSource(loc);
}
