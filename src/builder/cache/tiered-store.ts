/**
 * The step cache a build uses: the local cache first, then the registry
 * cache (`--cache-repo`, `--cache-from`), and every result recorded in both
 * (`--cache-to`). A registry hit costs a manifest and a record; its layer
 * is fetched into the blob store only when something reads it (a later
 * step needs the files, an output needs the blob). A push to the same
 * registry mounts it instead. Then the record is kept locally too.
 *
 * A cache registry that is slow or fails makes lookups miss and uploads
 * stop, with one warning; it never fails the build. Entries older than the
 * TTL (`--cache-ttl`) are not used, wherever they are.
 */
import type { Readable } from 'node:stream';
import { blobLayer, type BlobStore, type Descriptor, type Layer } from '../../oci/index.js';
import type { Digest } from '../../oci/digest.js';
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
  key: Digest;
  record: StepRecord;
  desc: Descriptor;
  fetched?: Promise<void>;
}

export class TieredStepCache implements StepCacheStore {
  /** Set when the cache registry failed: it is not asked again in this build. */
  private down = false;
  private readonly uploads: Array<Promise<void>> = [];
  /** Layers of registry hits, by digest: fetched from the cache repository when first read. */
  private readonly remote = new Map<Digest, RemoteLayer>();
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
    if (entry.layer === undefined || entry.record.layer === undefined) await this.local.put(key, entry.record);
    else if (!this.remote.has(entry.layer.digest)) this.remote.set(entry.layer.digest, { key, record: entry.record, desc: entry.layer });
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

  /** A registry hit's layer reads the blob from the cache repository into the store the first time it is opened. */
  layerOf(cached: CachedLayer): Layer | undefined {
    const remote = this.remote.get(cached.digest);
    const from = this.opts.from;
    if (remote === undefined || from === undefined) return undefined;
    const { digest, size } = remote.desc;
    return blobLayer({ ...remote.desc, mediaType: cached.mediaType }, cached.diffId, async () => {
      remote.fetched ??= (async () => {
        if (!(await this.blobs.has(digest))) await from.pullBlob(remote.desc, this.blobs, this.opts.signal);
        await this.local.put(remote.key, remote.record);
      })();
      try {
        await remote.fetched;
      } catch (err) {
        remote.fetched = undefined;
        throw err;
      }
      return this.blobs.open(digest, size);
    });
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
