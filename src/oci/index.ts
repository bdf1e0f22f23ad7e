/** The image model, blob store, references and local sources/sinks. */
export * from './media-types.js';
export type * from './types.js';
export { parseConfigFile, parseIndex, parseManifest, parseManifestDocument } from './parse.js';
export {
  serializeConfigFile,
  serializeIndex,
  serializeManifest,
} from './canonical-json.js';
export {
  createDigester,
  digestAlgorithm,
  digestHex,
  DigestingStream,
  hasherFor,
  isDigest,
  parseDigest,
  sha256Digest,
  verifiesDigest,
  verifyingStream,
  type Digest,
  type Expectation,
} from './digest.js';
export { DEFAULT_DOMAIN, DEFAULT_TAG, isValidTag, parseReference, Reference } from './reference.js';
export { BlobStore, resolveStoreRoot, type BlobInfo, type BlobWriteWatch, type PutExpectation } from './blob-store.js';
export { decompressor, gzipCompressor, sniffCompression } from './compression.js';
export { blobLayer, gzipLayer, storeLayer, uncompressLayerStream, withMediaType, writtenLayer, type Layer } from './layer.js';
export {
  blobImage,
  imageFromParts,
  imagePlatform,
  manifestDescriptor,
  verifiedBlob,
  type BlobFetcher,
  type Image,
  type ImageParts,
  type GrowingBlob,
  type ImageSink,
  type ImageSource,
} from './image.js';
export {
  blobIndex,
  indexContents,
  indexDescriptor,
  isIndexSink,
  type ImageIndex,
  type IndexContents,
  type IndexSink,
  type StoredImage,
  type StoredImageSource,
} from './image-index.js';
export { formatPlatform, normalizePlatform, parsePlatform, platformFromNode, platformMatches, selectPlatformManifest } from './platform.js';
export {
  CONTAINERD_NAME_ANNOTATION,
  REF_NAME_ANNOTATION,
  mergeIndex,
  indexEntries,
  refAnnotations,
  selectIndexEntry,
} from './layout-index.js';
export { OciLayout, type OciLayoutOptions } from './oci-layout.js';
export { OciArchive, OciArchiveStream } from './oci-archive.js';
export { DockerArchive, DockerArchiveStream, type DockerArchiveOptions } from './docker-archive.js';
export { repoTags, type DockerArchiveManifestEntry } from './docker-archive-write.js';
export { TarIndex, type TarMember } from './tar-index.js';
export { memo } from './memo.js';
