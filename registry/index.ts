/** The OCI distribution client: pull, push, tags, auth, TLS, retries. */
export { RegistryClient, type RegistryClientOptions, type RequestOptions } from './client.js';
export { RegistrySource, type RegistrySourceOptions } from './source.js';
export { RegistrySink, type RegistrySinkOptions } from './sink.js';
export { RemoteBlobs, remoteImage } from './remote-image.js';
export {
  RegistryError,
  parseOciErrors,
  redactUrl,
  redactText,
  scrubError,
  type OciError,
  type RegistryErrorCode,
} from './errors.js';
export { DEFAULT_MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, type FetchedManifest } from './manifests.js';
export { DEFAULT_MONOLITHIC_LIMIT, type BlobPushResult } from './blob-upload.js';
export { DEFAULT_RETRY, type RetryPolicy } from './transport.js';
export { DEFAULT_CERTS_DIRS, type TimeoutOptions } from './tls.js';
export { apiHost, endpointCandidates, isInsecureRegistry, isLoopbackHost, type Endpoint, type EndpointCandidate } from './endpoint.js';
export { parseChallenges, type Challenge } from './challenge.js';
export { pullScope, pushScope } from './auth.js';
export type { Credential, Keychain } from './keychain/index.js';
