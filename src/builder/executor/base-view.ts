import { FsView } from '../../../snapshot/fs-view.js';
import { whiteoutMarker, type LayerEntry } from '../../../snapshot/layer-entry.js';
import { HoistError } from '../../errors.js';
import type { BlobStore, Layer } from '../../oci/index.js';
import { archiveEntries } from '../add/archive.js';

/** Layer members named `.wh.x` / `.wh..wh..opq` are deletions and opaque markers, not files. */
function asLayerSemantics(entries: readonly LayerEntry[]): LayerEntry[] {
  return entries.map((e) => whiteoutMarker(e.path) ?? e);
}

/**
 * The filesystem view of an image's layers, for COPY/ADD/WORKDIR on top of
 * a registry image: each layer blob is fetched into the store (verified),
 * read once, its file contents spooled under `spoolDir`. Returns the view
 * and a cleanup for the spool.
 */
export async function viewFromImageLayers(
  layers: readonly Layer[],
  store: BlobStore,
  spoolDir: string,
  signal?: AbortSignal,
): Promise<{ view: FsView; cleanup: () => Promise<void> }> {
  const cleanups: Array<() => Promise<void>> = [];
  const cleanup = async (): Promise<void> => {
    for (const c of cleanups.splice(0)) await c();
  };
  try {
    let view = FsView.empty();
    for (const layer of layers) {
      const digest = await layer.digest();
      if (!(await store.has(digest))) await store.put(await layer.compressed(), { digest, size: await layer.size() }, { signal });
      let extracted;
      try {
        extracted = await archiveEntries(store.path(digest), '', { spoolDir, ...(signal ? { signal } : {}) });
      } catch (err) {
        // An empty layer (a tar with no members) has no tar header to detect; it adds nothing.
        if (err instanceof HoistError && err.code === 'NOT_AN_ARCHIVE') continue;
        // Gone between the check and the read (a prune beside the build): the build tries again (build.ts).
        if (!(await store.has(digest).catch(() => true))) throw store.notFound(digest, err);
        throw err;
      }
      cleanups.push(() => extracted.cleanup());
      view = view.withLayer(asLayerSemantics(extracted.entries));
    }
    return { view, cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
