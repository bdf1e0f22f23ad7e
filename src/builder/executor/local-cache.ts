import path from 'node:path';
import { FileDigests } from '../cache/file-digests.js';
import { FILE_DIGESTS_FILE, LocalStepCache } from '../cache/local-store.js';
import { DEFAULT_CACHE_TTL_MS, TieredStepCache, type TieredCacheOptions } from '../cache/tiered-store.js';
import type { BlobStore } from '../../oci/index.js';
import type { StepCacheOptions } from './step-cache.js';

export interface StepCacheSettings {
  /** `--no-cache`. */
  noLookups?: boolean | undefined;
  /** `--no-cache-filter`. */
  noLookupStages?: Iterable<string> | undefined;
  /** `--cache-ttl`: entries recorded longer ago are not used; default two weeks (Kaniko's). */
  ttlMs?: number | undefined;
  /** The registry cache (`--cache-repo`, `--cache-from`, `--cache-to`), and where its one warning goes. */
  registry?: Pick<TieredCacheOptions, 'from' | 'to' | 'warn' | 'signal'> | undefined;
}

/** The build cache in the blob store's directory: step records beside the blobs, and the context's file digests; a registry cache behind it if given. */
export async function localStepCache(store: BlobStore, opts: StepCacheSettings = {}): Promise<StepCacheOptions> {
  const local = new LocalStepCache(store.root, store);
  return {
    store: new TieredStepCache(local, store, { warn: () => {}, ...opts.registry, ttlMs: opts.ttlMs ?? DEFAULT_CACHE_TTL_MS }),
    digests: await FileDigests.load(path.join(store.root, FILE_DIGESTS_FILE)),
    noLookups: opts.noLookups,
    noLookupStages: new Set(opts.noLookupStages ?? []),
  };
}
