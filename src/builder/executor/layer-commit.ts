import type { LayerEntry } from '../../../snapshot/layer-entry.js';
import { createLayer } from '../../../snapshot/layer-stream.js';
import { MediaType, storeLayer, type BlobStore, type Layer } from '../../oci/index.js';
import type { Digest } from '../../oci/digest.js';

export interface CommittedLayer {
  layer: Layer;
  diffId: Digest;
  digest: Digest;
  size: number;
}

/**
 * Writes entries as one gzip layer into the store, in a single streaming
 * pass (tar, diffID, gzip and digest together). The store renames the blob
 * into place only when it is complete.
 */
export async function commitLayer(
  store: BlobStore,
  entries: readonly LayerEntry[],
  opts: { clampMtime?: number | undefined; signal?: AbortSignal | undefined },
): Promise<CommittedLayer> {
  const layer = createLayer(entries, opts.clampMtime === undefined ? {} : { clampMtime: opts.clampMtime });
  // An abort stops the store's write (its temp file is removed) and, through the destroyed stream, the layer writer.
  const [stored, result] = await Promise.all([store.put(layer.stream, {}, { signal: opts.signal }), layer.result]);
  if (stored.digest !== result.digest || stored.size !== result.size) {
    throw new Error(`layer writer and store disagree: ${stored.digest}/${stored.size} vs ${result.digest}/${result.size}`);
  }
  const descriptor = { mediaType: MediaType.OciLayerGzip, digest: result.digest, size: result.size };
  return { layer: storeLayer(store, descriptor, result.diffId), diffId: result.diffId, digest: result.digest, size: result.size };
}
