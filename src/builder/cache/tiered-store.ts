/**
 * The step cache a build uses: the local cache first, then the registry
 * cache (`--cache-repo`, `--cache-from`), and every result recorded in both
 * (`--cache-to`). A registry hit costs a manifest and a record; its layer
 * is fetched into the blob store only when something reads it (a later
 * step needs the files, an output needs the blob). A push to the same
 * registry mounts it instead. The layer is checked as it downloads, its
 * blob digest and the diffID its record claims, and only then is the
 * record kept locally too.
 *
 * A cache registry that is slow or fails makes lookups miss and uploads
 * stop, with one warning; it never fails the build. A hit whose layer turns
 * out lost (the registry deleted it after the lookup) or not what its record
 * says, when it is read, fails that try of the build: the entry is a miss
 * from then on, `retry()` says so, and the build starts again, finding the
 * steps it finished in the local cache (build.ts). This is why no lookup
 * HEADs the layer: a HEAD would still leave the blob free to go before it
 * is read, cannot see wrong content, and costs every hit a request.
 * Entries older than the TTL (`--cache-ttl`) are not used, wherever they are.
 */
import type { Readable } from 'node:stream';
import { blobLayer, type BlobStore, type Descriptor, type Layer } from '../../oci/index.js';
import type { Digest } from '../../oci/digest.js';
import { RegistryError } from '../../../registry/errors.js';
import { HoistError } from '../../errors.js';
import { checkDiffId, diffIdChecked } from './diff-id-check.js';
import type { CachedLayer, LocalStepCache, StepCacheStore, StepRecord } from './local-store.js';
import type { RegistryStepStore } from './registry-store.js';

/** Kaniko's default --cache-ttl: two weeks. */
export const DEFAULT_CACHE_TTL_MS = 336 * 60 * 60 * 1000;

export interface TieredCacheOptions {
  /** Where entries are looked up after the local cache (`--cache-from`, `--cache-repo`). */
  from?: RegistryStepStore | undefined;
  /** Where results are recorded besides the local cache (`--cache-to`, `--cache-repo`). */
  to?: RegistryStepStore | undefined;
  /** Entries recorded longer ago than this are not used; undefined: no bound. */
  ttlMs?: number | undefined;
  /** Told once when the cache registry fails (the build goes on without it). */
  warn: (message: string) => void;
  now?: () => number;
  signal?: AbortSignal | undefined;
}

interface RemoteLayer {
  /** The entries that name this layer (with this diffID), by key. */
  records: Map<Digest, StepRecord>;
  desc: Descriptor;
  diffId: Digest;
  fetched?: Promise<void>;
}

export class TieredStepCache implements StepCacheStore {
  /** Set when the cache registry failed: it is not asked again in this build. */
  private down = false;
  private readonly uploads: Array<Promise<void>> = [];
  /** Layers of registry hits, by blob digest and diffID: fetched from the cache repository when first read. */
  private readonly remote = new Map<string, RemoteLayer>();
  /** Entries found unusable when their layer was read, since retry() was last asked. */
  private lateMisses = 0;
  /** Keys the registry did not have in this build (a step looked up twice asks once). */
  private readonly missed = new Set<Digest>();
  private readonly now: () => number;

  constructor(
    private readonly local: LocalStepCache,
    private readonly blobs: BlobStore,
    private readonly opts: TieredCacheOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  async get(key: Digest): Promise<StepRecord | undefined> {
    const local = await this.local.get(key);
    if (local !== undefined && this.fresh(local)) {
      this.share(key, local);
      return local;
    }
    const { from } = this.opts;
    if (from === undefined || this.down || this.missed.has(key)) return undefined;
    let entry;
    try {
      entry = await from.get(key, this.opts.signal);
    } catch (err) {
      this.fail(from, 'look up steps in', err);
      return undefined;
    }
    if (entry === undefined || !this.fresh(entry.record)) {
      this.missed.add(key);
      return undefined;
    }
    if (entry.layer === undefined || entry.record.layer === undefined) {
      await this.local.put(key, entry.record);
      return entry.record;
    }
    const id = remoteId(entry.layer.digest, entry.record.layer.diffId);
    let remote = this.remote.get(id);
    if (remote === undefined) this.remote.set(id, (remote = { records: new Map(), desc: entry.layer, diffId: entry.record.layer.diffId }));
    remote.records.set(key, entry.record);
    return entry.record;
  }

  async put(key: Digest, record: StepRecord): Promise<void> {
    const stamped: StepRecord = { ...record, stored: record.stored ?? new Date(this.now()).toISOString() };
    await this.local.put(key, stamped);
    this.upload(key, stamped, false);
  }

  /** A local hit is recorded in the cache repository too when it lacks it (a cache dir that was filled before --cache-to was given). */
  private share(key: Digest, record: StepRecord): void {
    this.upload(key, record, true);
  }

  private upload(key: Digest, record: StepRecord, unlessThere: boolean): void {
    const { to } = this.opts;
    if (to === undefined || this.down) return;
    const layer = record.layer;
    const open = (): Promise<Readable> => (layer === undefined ? Promise.reject(new Error('no layer')) : this.blobs.open(layer.digest, layer.size));
    const work = async (): Promise<void> => {
      if (this.down || (unlessThere && (await to.has(key, this.opts.signal)))) return;
      await to.put(key, record, open, this.opts.signal);
    };
    this.uploads.push(work().catch((err: unknown) => this.fail(to, 'record steps in', err)));
  }

  exclusive<T>(key: Digest, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return this.local.exclusive(key, fn, signal);
  }

  /**
   * A registry hit's layer reads the blob from the cache repository into the
   * store the first time it is opened, checked against the record's diffID
   * as it streams; then its records are kept locally.
   */
  layerOf(cached: CachedLayer): Layer | undefined {
    const remote = this.remote.get(remoteId(cached.digest, cached.diffId));
    const from = this.opts.from;
    if (remote === undefined || from === undefined) return undefined;
    const { digest, size } = remote.desc;
    return blobLayer({ ...remote.desc, mediaType: cached.mediaType }, cached.diffId, async () => {
      remote.fetched ??= this.fetch(from, remote, cached.mediaType);
      await remote.fetched;
      return this.blobs.open(digest, size);
    });
  }

  private async fetch(from: RegistryStepStore, remote: RemoteLayer, mediaType: string): Promise<void> {
    const { digest, size } = remote.desc;
    const describe = `the layer ${digest} of a cached step`;
    try {
      if (await this.blobs.has(digest)) await checkDiffId(await this.blobs.open(digest, size), mediaType, remote.diffId, describe);
      else await this.blobs.put(diffIdChecked(await from.openBlob(remote.desc, this.opts.signal), mediaType, remote.diffId, describe), { digest, size });
    } catch (err) {
      if (this.opts.signal?.aborted === true) throw err;
      throw this.lateMiss(from, remote, err);
    }
    for (const [key, record] of remote.records) await this.local.put(key, record);
  }

  /** A hit whose layer could not be read as its record says: a miss from now on, and the build is tried again. */
  private lateMiss(from: RegistryStepStore, remote: RemoteLayer, err: unknown): HoistError {
    for (const key of remote.records.keys()) this.missed.add(key);
    this.remote.delete(remoteId(remote.desc.digest, remote.diffId));
    this.lateMisses++;
    const repo = from.repo.repository().string();
    const lost = err instanceof RegistryError && err.code === 'REGISTRY_NOT_FOUND';
    const wrong = err instanceof HoistError && err.code === 'DIGEST_MISMATCH';
    const reason = err instanceof Error ? err.message : String(err);
    if (!lost && !wrong) this.fail(from, 'read a cached layer from', err);
    else this.opts.warn(`the cache repository ${repo} ${lost ? 'no longer has' : 'has a wrong'} layer ${remote.desc.digest} for a cached step, so the step is built again: ${reason}`);
    return new HoistError('CACHE_LAYER_UNUSABLE', `the layer ${remote.desc.digest} of a cached step could not be read from ${repo}: ${reason}`, {
      hint: `hoist builds the step again by itself; if this stays, delete the step's hoist-* tag from ${repo} or build without the registry cache`,
      cause: err,
    });
  }

  /**
   * After a try of the build failed: whether an entry was found unusable in
   * it when its layer was read. That entry is a miss now, so building again
   * can succeed where this try could not.
   */
  retry(): boolean {
    const had = this.lateMisses > 0;
    this.lateMisses = 0;
    return had;
  }

  get hasRegistry(): boolean {
    return this.opts.from !== undefined || this.opts.to !== undefined;
  }

  async flush(): Promise<void> {
    await Promise.all(this.uploads.splice(0));
  }

  private fresh(record: StepRecord): boolean {
    if (this.opts.ttlMs === undefined) return true;
    const at = Date.parse(record.stored ?? record.created);
    return Number.isFinite(at) && this.now() - at <= this.opts.ttlMs;
  }

  private fail(registry: RegistryStepStore, what: string, err: unknown): void {
    if (this.down) return;
    this.down = true;
    const reason = err instanceof Error ? err.message : String(err);
    this.opts.warn(`could not ${what} the cache repository ${registry.repo.repository().string()}, so the build goes on without it: ${reason}`);
  }
}

function remoteId(digest: Digest, diffId: Digest): string {
  return `${digest} ${diffId}`;
}
