import { pipeline } from 'node:stream';
import type { LayerEntry } from '../../../snapshot/layer-entry.js';
import { createLayer } from '../../../snapshot/layer-stream.js';
import { MediaType, storeLayer, type BlobStore, type Layer } from '../../oci/index.js';
import type { Digest } from '../../oci/digest.js';
import { byteCounter } from '../../oci/progress.js';

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
  const report = opts.onProgress;
  const counted = report === undefined ? undefined : countContent(entries, report);
  const layer = createLayer(counted?.entries ?? entries, opts.clampMtime === undefined ? {} : { clampMtime: opts.clampMtime });
  // An abort stops the store's write (its temp file is removed) and, through the destroyed stream, the layer writer.
  const [stored, result] = await Promise.all([store.put(layer.stream, {}, { signal: opts.signal }), layer.result]);
  if (stored.digest !== result.digest || stored.size !== result.size) {
    throw new Error(`layer writer and store disagree: ${stored.digest}/${stored.size} vs ${result.digest}/${result.size}`);
  }
  if (report !== undefined && counted !== undefined) report(counted.total, counted.total, true);
  const descriptor = { mediaType: MediaType.OciLayerGzip, digest: result.digest, size: result.size };
  return { layer: storeLayer(store, descriptor, result.diffId), diffId: result.diffId, digest: result.digest, size: result.size };
}

/**
 * The entries with every file's content counted as the tar writer reads it.
 * Hard links that share a `linkKey` carry their content once, so their size counts once.
 */
function countContent(
  entries: readonly LayerEntry[],
  report: (current: number, total: number, done: boolean) => void,
): { entries: LayerEntry[]; total: number } {
  const seen = new Set<string>();
  let total = 0;
  let current = 0;
  const out = entries.map((entry): LayerEntry => {
    if (entry.kind !== 'file' || entry.size === 0) return entry;
    // Only one of the files sharing a linkKey is opened (the first in tar order).
    if (entry.linkKey === undefined || !seen.has(entry.linkKey)) total += entry.size;
    if (entry.linkKey !== undefined) seen.add(entry.linkKey);
    return {
      ...entry,
      open: () => {
        let before = 0;
        const counter = byteCounter((n) => {
          current += n - before;
          before = n;
          report(current, total, false);
        });
        return pipeline(entry.open(), counter, () => undefined);
      },
    };
  });
  return { entries: out, total };
}
