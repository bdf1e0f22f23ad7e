import path from 'node:path';
import { FileDigests } from '../cache/file-digests.js';
import { FILE_DIGESTS_FILE, LocalStepCache } from '../cache/local-store.js';
import type { BlobStore } from '../../oci/index.js';
import type { StepCacheOptions } from './step-cache.js';

/** The build cache in the blob store's directory: step records beside the blobs, and the context's file digests. */
export async function localStepCache(
  store: BlobStore,
  opts: { noLookups?: boolean | undefined; noLookupStages?: Iterable<string> | undefined } = {},
): Promise<StepCacheOptions> {
  return {
    store: new LocalStepCache(store.root, store),
    digests: await FileDigests.load(path.join(store.root, FILE_DIGESTS_FILE)),
    noLookups: opts.noLookups,
    noLookupStages: new Set(opts.noLookupStages ?? []),
  };
}
