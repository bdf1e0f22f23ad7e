/**
 * OCI and Docker (v2 schema2) media types, and the few questions hoist asks
 * about them: is this an index, a manifest, a layer; how is a layer
 * compressed; what is the equivalent type in the other family.
 */

export const MediaType = {
  OciManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciIndex: 'application/vnd.oci.image.index.v1+json',
  OciConfig: 'application/vnd.oci.image.config.v1+json',
  OciLayer: 'application/vnd.oci.image.layer.v1.tar',
  OciLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  OciLayerNondistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  OciLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  OciLayerNondistributableZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  OciEmpty: 'application/vnd.oci.empty.v1+json',

  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerForeignLayer: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  DockerPluginConfig: 'application/vnd.docker.plugin.v1+json',
  /** Schema 1 manifests are recognised only to be refused with a clear message. */
  DockerManifestSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  DockerManifestSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

export type MediaTypeName = (typeof MediaType)[keyof typeof MediaType];

/** Which family of media types a manifest (and the descriptors in it) uses. */
export type MediaTypeFamily = 'oci' | 'docker';

export type Compression = 'none' | 'gzip' | 'zstd';

export function isIndexMediaType(mt: string): boolean {
  return mt === MediaType.OciIndex || mt === MediaType.DockerManifestList;
}

export function isImageManifestMediaType(mt: string): boolean {
  return mt === MediaType.OciManifest || mt === MediaType.DockerManifest;
}

export function isSchema1MediaType(mt: string): boolean {
  return mt === MediaType.DockerManifestSchema1 || mt === MediaType.DockerManifestSchema1Signed;
}

export function isConfigMediaType(mt: string): boolean {
  return mt === MediaType.OciConfig || mt === MediaType.DockerConfig;
}

const LAYER_COMPRESSION: ReadonlyMap<string, Compression> = new Map<string, Compression>([
  [MediaType.OciLayer, 'none'],
  [MediaType.OciLayerGzip, 'gzip'],
  [MediaType.OciLayerZstd, 'zstd'],
  [MediaType.OciLayerNondistributable, 'none'],
  [MediaType.OciLayerNondistributableGzip, 'gzip'],
  [MediaType.OciLayerNondistributableZstd, 'zstd'],
  [MediaType.DockerLayer, 'none'],
  [MediaType.DockerLayerGzip, 'gzip'],
  [MediaType.DockerForeignLayer, 'gzip'],
]);

export function isLayerMediaType(mt: string): boolean {
  return LAYER_COMPRESSION.has(mt);
}

/** The compression a layer media type declares; undefined when `mt` is not a known layer type. */
export function layerCompression(mt: string): Compression | undefined {
  return LAYER_COMPRESSION.get(mt);
}

/**
 * Foreign (Docker) and non-distributable (OCI) layers must not be pushed to
 * a registry; their descriptors usually carry `urls`.
 */
export function isDistributable(mt: string): boolean {
  return (
    mt !== MediaType.DockerForeignLayer &&
    mt !== MediaType.OciLayerNondistributable &&
    mt !== MediaType.OciLayerNondistributableGzip &&
    mt !== MediaType.OciLayerNondistributableZstd
  );
}

/** The family a manifest or index media type belongs to. */
export function mediaTypeFamily(mt: string): MediaTypeFamily {
  return mt.startsWith('application/vnd.docker.') ? 'docker' : 'oci';
}

export function manifestMediaType(family: MediaTypeFamily): string {
  return family === 'docker' ? MediaType.DockerManifest : MediaType.OciManifest;
}

export function indexMediaType(family: MediaTypeFamily): string {
  return family === 'docker' ? MediaType.DockerManifestList : MediaType.OciIndex;
}

export function configMediaType(family: MediaTypeFamily): string {
  return family === 'docker' ? MediaType.DockerConfig : MediaType.OciConfig;
}

const TO_DOCKER: ReadonlyMap<string, string> = new Map([
  [MediaType.OciLayer, MediaType.DockerLayer],
  [MediaType.OciLayerGzip, MediaType.DockerLayerGzip],
  [MediaType.OciLayerNondistributableGzip, MediaType.DockerForeignLayer],
]);

const TO_OCI: ReadonlyMap<string, string> = new Map([
  [MediaType.DockerLayer, MediaType.OciLayer],
  [MediaType.DockerLayerGzip, MediaType.OciLayerGzip],
  [MediaType.DockerForeignLayer, MediaType.OciLayerNondistributableGzip],
]);

/**
 * The layer media type with the same bytes in the other family, so that a
 * manifest does not mix families. Types with no equivalent (zstd has no
 * Docker name) are returned unchanged.
 */
export function layerMediaTypeFor(family: MediaTypeFamily, mt: string): string {
  const table = family === 'docker' ? TO_DOCKER : TO_OCI;
  return table.get(mt) ?? mt;
}

/** The default layer media type for a compression in a family. */
export function layerMediaType(family: MediaTypeFamily, compression: Compression): string {
  if (compression === 'zstd') return MediaType.OciLayerZstd;
  if (family === 'docker') return compression === 'gzip' ? MediaType.DockerLayerGzip : MediaType.DockerLayer;
  return compression === 'gzip' ? MediaType.OciLayerGzip : MediaType.OciLayer;
}
