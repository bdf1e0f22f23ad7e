/**
 * RegistryClient: the OCI distribution API for one process, like
 * go-containerregistry's `remote`. Everything it caches (endpoints and
 * challenges, tokens, credentials, connections, which repositories hold
 * which blobs) lives in the instance; `close()` releases the connections.
 *
 * Repositories are named by a Reference (its domain and path; a tag or
 * digest on it is ignored where only the repository matters).
 */
import type { Readable } from 'node:stream';
import { isDigest, type BlobInfo, type BlobStore, type Descriptor, type Digest, type GrowingBlob, type Reference } from '../src/oci/index.js';
import { checkLogin, checkPushAccess } from './access-check.js';
import { Authenticator, pullScope } from './auth.js';
import { downloadBlob } from './blob-download.js';
import { blobExistsAt, DEFAULT_MONOLITHIC_LIMIT, uploadBlob, uploadGrowingBlob, type BlobPushResult } from './blob-upload.js';
import { DEFAULT_TIMEOUT_MS } from './deadline.js';
import { isInsecureRegistry } from './endpoint.js';
import { scrubError } from './errors.js';
import type { Keychain } from './keychain/index.js';
import {
  DEFAULT_MANIFEST_ACCEPT,
  getManifest,
  headManifest,
  putManifest,
  type FetchedManifest,
} from './manifests.js';
import { RegistryHttp } from './registry-http.js';
import { listTags } from './tags.js';
import { AgentPool, speaksTls, type TimeoutOptions } from './tls.js';
import { ProxyResolver, type ProxySettings } from './proxy.js';
import { TokenCache } from './token-cache.js';
import { Transport, type RetryPolicy } from './transport.js';

export interface RegistryClientOptions {
  keychain: Keychain;
  /** Registries reached without TLS verification, or over plain HTTP: `host[:port]`, a bare host, or an IPv4 CIDR. */
  insecureRegistries?: readonly string[];
  /** Extra CA certificates (PEM files) trusted for every registry. */
  caFiles?: readonly string[];
  /** Extra CA certificates (PEM files) trusted for one registry only, by `host[:port]`. */
  hostCaFiles?: Readonly<Record<string, readonly string[]>>;
  /** certs.d roots (`<dir>/<host[:port]>/*.crt`); default /etc/docker/certs.d and /etc/containers/certs.d. */
  certsDirs?: readonly string[];
  /** System CA bundle candidates (first existing is trusted); default the usual Linux paths, [] for none. */
  systemCaBundles?: readonly string[];
  /** Blobs transferred at once by sources and sinks using this client. Default 6, as skopeo. */
  concurrency?: number;
  retry?: Partial<RetryPolicy>;
  userAgent?: string;
  /**
   * How long to wait for a connection, for response headers (then one retry) and
   * through a silence in a body; also the grace of the total deadline of a
   * response (deadline.ts). Default 30 s. `timeouts` overrides it per phase.
   */
  timeoutMs?: number;
  timeouts?: TimeoutOptions;
  /** HTTP_PROXY / HTTPS_PROXY / NO_PROXY, as Go reads them (proxy.ts). Default: no proxy. */
  proxy?: ProxySettings;
  /** Blobs up to this many bytes are uploaded with one PUT; larger ones with PATCH + PUT. Default 16 MiB. */
  monolithicUploadLimit?: number;
  /** Clock for token expiry (tests). */
  now?: () => number;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

export interface BlobTransferOptions extends RequestOptions {
  /** Told the bytes moved so far, after each chunk. */
  onProgress?: ((bytes: number) => void) | undefined;
}

export class RegistryClient {
  readonly concurrency: number;
  private readonly agents: AgentPool;
  private readonly transport: Transport;
  private readonly http: RegistryHttp;
  private readonly auth: Authenticator;
  private readonly monolithicLimit: number;
  /** registry -> digest -> repositories known to hold it (for cross-repository mounts). */
  private readonly blobHomes = new Map<string, Map<Digest, Set<string>>>();

  constructor(options: RegistryClientOptions) {
    const insecure = options.insecureRegistries ?? [];
    this.concurrency = Math.max(1, options.concurrency ?? 6);
    this.monolithicLimit = options.monolithicUploadLimit ?? DEFAULT_MONOLITHIC_LIMIT;
    this.agents = new AgentPool(
      {
        ...(options.caFiles ? { caFiles: options.caFiles } : {}),
        ...(options.hostCaFiles ? { hostCaFiles: options.hostCaFiles } : {}),
        ...(options.certsDirs ? { certsDirs: options.certsDirs } : {}),
        ...(options.systemCaBundles ? { systemCaBundles: options.systemCaBundles } : {}),
      },
      {
        ...(options.timeoutMs === undefined ? {} : { connectMs: options.timeoutMs, headersMs: options.timeoutMs, bodyMs: options.timeoutMs }),
        ...options.timeouts,
      },
      new ProxyResolver(options.proxy),
    );
    // TLS verification is off only for hosts the user named insecure. Plain http reads no
    // TLS material at all (CAs would only cost start-up time; a client key is not needed).
    const dispatcherFor = (url: URL) =>
      this.agents.get(url.host, url.protocol !== 'https:' ? 'plain' : isInsecureRegistry(url.host, insecure) ? 'insecure' : 'verify');
    this.transport = new Transport(dispatcherFor, options.retry, {
      userAgent: options.userAgent ?? 'hoist',
      ...(options.timeoutMs === undefined ? {} : { limits: { timeoutMs: options.timeoutMs } }),
    });
    this.auth = new Authenticator(options.keychain, this.transport, new TokenCache(options.now));
    const connectMs = options.timeouts?.connectMs ?? options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.http = new RegistryHttp(this.transport, this.auth, insecure, (hostPort, signal) => speaksTls(hostPort, connectMs, signal));
  }

  get retryPolicy(): RetryPolicy {
    return this.transport.policy;
  }

  /** Fetch a manifest or index: exact bytes, media type, and the digest of the bytes (checked when `ref` pins one). */
  async getManifest(ref: Reference, accept: readonly string[] = DEFAULT_MANIFEST_ACCEPT, options: RequestOptions = {}): Promise<FetchedManifest> {
    const fetched = await this.scrubbed(getManifest(this.http, ref, accept, options.signal));
    this.noteManifestBlobs(ref, fetched.raw);
    return fetched;
  }

  /**
   * An image manifest names blobs its repository holds: remember them, so a
   * push of an image built on this one mounts its layers instead of
   * downloading and uploading them.
   */
  private noteManifestBlobs(ref: Reference, raw: Buffer): void {
    let doc: { config?: { digest?: unknown }; layers?: Array<{ digest?: unknown }> };
    try {
      doc = JSON.parse(raw.toString('utf8')) as typeof doc;
    } catch {
      return;
    }
    const digests = [doc.config?.digest, ...(Array.isArray(doc.layers) ? doc.layers.map((l) => l?.digest) : [])];
    for (const d of digests) if (typeof d === 'string' && isDigest(d)) this.noteBlob(ref, d);
  }

  /** A manifest's descriptor, or undefined when the registry does not have it. */
  headManifest(ref: Reference, accept: readonly string[] = DEFAULT_MANIFEST_ACCEPT, options: RequestOptions = {}): Promise<Descriptor | undefined> {
    return this.scrubbed(headManifest(this.http, ref, accept, options.signal));
  }

  /** Store a manifest under `ref`'s tag, or its digest when it has no tag. Returns the manifest digest. */
  putManifest(ref: Reference, raw: Buffer, mediaType: string, options: RequestOptions = {}): Promise<Digest> {
    return this.scrubbed(putManifest(this.http, ref, raw, mediaType, options.signal));
  }

  async blobExists(repo: Reference, digest: Digest, options: RequestOptions = {}): Promise<boolean> {
    const found = await this.scrubbed(blobExistsAt(this.http, this.loc(repo), { digest }, [pullScope(repo.path)], options.signal));
    if (found) this.noteBlob(repo, digest);
    return found;
  }

  /**
   * A blob's content, verified against `desc` (digest and size); a dropped
   * connection resumes with a Range request. Redirects to storage are
   * followed without credentials.
   */
  async fetchBlob(repo: Reference, desc: Descriptor, options: BlobTransferOptions = {}): Promise<Readable> {
    const stream = await this.scrubbed(
      downloadBlob(this.http, this.loc(repo), desc, {
        policy: this.transport.policy,
        ...(options.signal ? { signal: options.signal } : {}),
        onProgress: options.onProgress,
      }),
    );
    this.noteBlob(repo, desc.digest);
    return stream;
  }

  /** Download a blob into `store` unless it is there. Nothing is stored if the content does not match. */
  async pullBlob(repo: Reference, desc: Descriptor, store: BlobStore, options: BlobTransferOptions = {}): Promise<BlobInfo> {
    if (await store.has(desc.digest)) return { digest: desc.digest, size: desc.size };
    return store.put(await this.fetchBlob(repo, desc, options), { digest: desc.digest, size: desc.size });
  }

  /**
   * Make `repo` hold the blob: nothing if it has it, a cross-repository mount
   * if this client has seen the blob in another repository of the same
   * registry, else an upload of `open()` (called again for each retry).
   */
  async pushBlob(repo: Reference, desc: Descriptor, open: () => Promise<Readable>, options: BlobTransferOptions = {}): Promise<BlobPushResult> {
    const mountFrom = this.mountSource(repo, desc.digest);
    const result = await this.scrubbed(
      uploadBlob(this.http, this.loc(repo), desc, open, {
        policy: this.transport.policy,
        monolithicLimit: this.monolithicLimit,
        ...(mountFrom === undefined ? {} : { mountFrom }),
        ...(options.signal ? { signal: options.signal } : {}),
        onProgress: options.onProgress,
      }),
    );
    this.noteBlob(repo, desc.digest);
    return result;
  }

  /** Push a blob while it is being written (see uploadGrowingBlob); the caller sends it again if this fails. */
  async pushGrowingBlob(repo: Reference, blob: GrowingBlob, options: BlobTransferOptions = {}): Promise<BlobPushResult> {
    const result = await this.scrubbed(uploadGrowingBlob(this.http, this.loc(repo), blob, options.signal, options.onProgress));
    this.noteBlob(repo, (await blob.descriptor).digest);
    return result;
  }

  /** Whether the keychain's credential for `registry` is accepted (GET /v2/ through its auth challenge); throws if not. */
  checkLogin(registry: string, options: RequestOptions = {}): Promise<void> {
    return checkLogin(this.http, registry, options.signal);
  }

  /** Whether `repo` accepts a push with the credentials at hand (an upload session, started and cancelled); throws if not. */
  checkPushAccess(repo: Reference, options: RequestOptions = {}): Promise<void> {
    return checkPushAccess(this.http, repo.domain, repo.path, options.signal);
  }

  /** Every tag of the repository, following pagination. `pageSize` sets `?n=`. */
  listTags(repo: Reference, options: RequestOptions & { pageSize?: number } = {}): Promise<string[]> {
    return this.scrubbed(listTags(this.http, repo.domain, repo.path, options));
  }

  /** Release connections. The client must not be used afterwards. */
  async close(): Promise<void> {
    await this.agents.close();
  }

  /**
   * The credentials this client has used: a caller that prints text a
   * registry produced (or errors of its own that may quote it) masks these.
   */
  secrets(): string[] {
    return this.auth.secrets();
  }

  /** A registry may echo the credentials it was sent (in an error body, say): none reach an error. */
  private async scrubbed<T>(work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (err) {
      throw scrubError(err, this.auth.secrets());
    }
  }

  private loc(repo: Reference): { registry: string; repository: string } {
    return { registry: repo.domain, repository: repo.path };
  }

  private noteBlob(repo: Reference, digest: Digest): void {
    let byDigest = this.blobHomes.get(repo.domain);
    if (byDigest === undefined) this.blobHomes.set(repo.domain, (byDigest = new Map()));
    let repos = byDigest.get(digest);
    if (repos === undefined) byDigest.set(digest, (repos = new Set()));
    repos.add(repo.path);
  }

  private mountSource(repo: Reference, digest: Digest): string | undefined {
    const repos = this.blobHomes.get(repo.domain)?.get(digest);
    if (repos === undefined) return undefined;
    for (const r of repos) if (r !== repo.path) return r;
    return undefined;
  }
}
