/**
 * The deterministic tar stream of a layer. Entries go through
 * LayerSequencer (layer-sequence.ts: names, order, parents, clamp, hard
 * links) one at a time; unordered sources are sorted first (layer-plan.ts).
 * The bytes come from the project's one tar writer (src/tar), which pulls
 * each file's content from its entry's `open()` only as fast as the
 * consumer reads, so memory does not grow with file or layer size, and with
 * an ordered source not with the number of entries either.
 *
 * Why not tar-stream's pack (it is still the tests' independent reader):
 * tar-stream 3.2 writes uid/gid above 0o7777777 as 7777777 without a PAX
 * record, truncates mtime to 32 bits (`| 0`), and names every
 * PAX-described entry `PaxHeader` in its ustar block. A layer digest is
 * forever, so the bytes are ours.
 */
import { Readable } from 'node:stream';
import { HoistError } from '../src/errors.js';
import { isTarError, tarChunks, type TarMemberInput } from '../src/tar/index.js';
import type { LayerEntry } from './layer-entry.js';
import { sortLayerEntries } from './layer-plan.js';
import { LayerSequencer, type TarOptions } from './layer-sequence.js';

export type { TarOptions } from './layer-sequence.js';

export type EntrySource = Iterable<LayerEntry> | AsyncIterable<LayerEntry>;

const CHUNK = 64 * 1024;

/**
 * The uncompressed tar of `entries`. Errors (HoistError UNSAFE_PATH,
 * INVALID_PATH, DUPLICATE_PATH, RESERVED_NAME, PARENT_NOT_DIRECTORY,
 * INVALID_HARDLINK, ENTRY_ORDER, TAR_FIELD_RANGE, and FILE_CHANGED when a
 * file's content does not have the size its entry announced) destroy the
 * stream.
 */
export function createTarStream(entries: EntrySource, opts: TarOptions = {}): Readable {
  return Readable.from(layerTarChunks(entries, opts), { objectMode: false, highWaterMark: CHUNK });
}

/** The tar as an async sequence of buffers. */
export async function* layerTarChunks(entries: EntrySource, opts: TarOptions = {}): AsyncGenerator<Buffer, void, undefined> {
  const sequencer = new LayerSequencer(opts); // checks the options before any entry is read
  try {
    yield* tarChunks(planned(sequencer, entries, opts));
  } catch (err) {
    throw asLayerError(err);
  }
}

async function* planned(sequencer: LayerSequencer, entries: EntrySource, opts: TarOptions): AsyncGenerator<TarMemberInput, void, undefined> {
  for await (const entry of opts.ordered === true ? entries : await sorted(entries)) yield* sequencer.accept(entry);
}

function asLayerError(err: unknown): unknown {
  if (!isTarError(err)) return err;
  if (err.kind === 'size-mismatch') {
    return new HoistError('FILE_CHANGED', err.message, {
      hint: 'the file changed while the layer was being written; nothing may write to the tree being snapshotted',
      cause: err,
    });
  }
  return new HoistError('TAR_FIELD_RANGE', err.message, { cause: err });
}

/** All entries in layer order, handed out once each so that written ones can be collected. */
async function sorted(entries: EntrySource): Promise<Iterable<LayerEntry>> {
  const list: LayerEntry[] = [];
  for await (const entry of entries) list.push(entry);
  const inOrder: Array<LayerEntry | undefined> = sortLayerEntries(list);
  list.length = 0;
  return (function* release() {
    for (let i = 0; i < inOrder.length; i++) {
      const entry = inOrder[i] as LayerEntry;
      inOrder[i] = undefined;
      yield entry;
    }
  })();
}
