import type { LayerEntry } from '../../../snapshot/layer-entry.js';
import { createLayer } from '../../../snapshot/layer-stream.js';
import { MediaType, storeLayer, writtenLayer, type BlobStore, type Layer } from '../../oci/index.js';
import type { Digest } from '../../oci/digest.js';

/**
 * A layer with no entries, byte for byte as BuildKit writes it for a RUN
 * that changed nothing: Go's gzip (no name, mtime 0) of an empty tar (1024
 * zero bytes). Registries and caches already hold this blob.
 */
const EMPTY_LAYER = Buffer.from([31, 139, 8, 0, 0, 0, 0, 0, 0, 255, 98, 24, 5, 163, 96, 20, 140, 88, 0, 8, 0, 0, 255, 255, 46, 175, 181, 239, 0, 4, 0, 0]);
const EMPTY_LAYER_DIGEST: Digest = 'sha256:4f4fb700ef54461cfa02571ae0db9a0dc1e0cdb5577484a6d75e68dc38e8acc1';
const EMPTY_LAYER_DIFF_ID: Digest = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';

export interface CommittedLayer {
  layer: Layer;
  diffId: Digest;
  digest: Digest;
  size: number;
}

export interface CommitOptions {
  clampMtime?: number | undefined;
  signal?: AbortSignal | undefined;
  /**
   * Told how much file content has gone into the layer (tar, gzip) so far,
   * out of the total of the entries' file sizes; called once more with
   * `done` when the blob is in the store.
   */
  onProgress?: ((current: number, total: number, done: boolean) => void) | undefined;
}

/**
 * Writes entries as one gzip layer into the store, in a single streaming
 * pass (tar, diffID, gzip and digest together). The store renames the blob
 * into place only when it is complete.
 */
export async function commitLayer(store: BlobStore, entries: readonly LayerEntry[], opts: CommitOptions): Promise<CommittedLayer> {
  if (entries.length === 0) return commitEmptyLayer(store);
  const report = opts.onProgress;
  const counted = report === undefined ? undefined : contentCounter(entries, report);
  const layer = createLayer(entries, {
    ...(opts.clampMtime === undefined ? {} : { clampMtime: opts.clampMtime }),
    ...(counted === undefined ? {} : { onContent: counted.onContent }),
  });
  // An abort stops the store's write (its temp file is removed) and, through the destroyed stream, the layer writer.
  const [stored, result] = await Promise.all([store.put(layer.stream, {}, { signal: opts.signal }), layer.result]);
  if (stored.digest !== result.digest || stored.size !== result.size) {
    throw new Error(`layer writer and store disagree: ${stored.digest}/${stored.size} vs ${result.digest}/${result.size}`);
  }
  if (report !== undefined && counted !== undefined) report(counted.total, counted.total, true);
  const descriptor = { mediaType: MediaType.OciLayerGzip, digest: result.digest, size: result.size };
  return { layer: writtenLayer(store, descriptor, result.diffId), diffId: result.diffId, digest: result.digest, size: result.size };
}

async function commitEmptyLayer(store: BlobStore): Promise<CommittedLayer> {
  const size = EMPTY_LAYER.length;
  await store.putBytes(EMPTY_LAYER, { digest: EMPTY_LAYER_DIGEST, size });
  const descriptor = { mediaType: MediaType.OciLayerGzip, digest: EMPTY_LAYER_DIGEST, size };
  return { layer: storeLayer(store, descriptor, EMPTY_LAYER_DIFF_ID), diffId: EMPTY_LAYER_DIFF_ID, digest: EMPTY_LAYER_DIGEST, size };
}

/**
 * A counter of file content as the tar writer takes it (one callback per
 * piece, not a counting stream per file: a layer of thousands of small
 * files paid for a pipeline and its AbortController each). Hard links that
 * share a `linkKey` carry their content once, so their size counts once.
 */
function contentCounter(
  entries: readonly LayerEntry[],
  report: (current: number, total: number, done: boolean) => void,
): { onContent: (bytes: number) => void; total: number } {
  const seen = new Set<string>();
  let total = 0;
  for (const entry of entries) {
    if (entry.kind !== 'file' || entry.size === 0) continue;
    // Only one of the files sharing a linkKey is opened (the first in tar order).
    if (entry.linkKey === undefined || !seen.has(entry.linkKey)) total += entry.size;
    if (entry.linkKey !== undefined) seen.add(entry.linkKey);
  }
  let current = 0;
  return {
    total,
    onContent: (bytes) => {
      current += bytes;
      report(current, total, false);
    },
  };
}
