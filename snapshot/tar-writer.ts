/**
 * The deterministic tar stream of a layer. Entries go through
 * LayerSequencer (layer-sequence.ts: names, order, parents, clamp, hard
 * links) one at a time; unordered sources are sorted first (layer-plan.ts).
 * File content is pulled from each entry's `open()` only as fast as the
 * consumer reads, so memory does not grow with file or layer size, and with
 * an ordered source not with the number of entries either.
 *
 * Why not tar-stream's pack (it is still the test oracle): tar-stream 3.2
 * writes uid/gid above 0o7777777 as 7777777 without a PAX record, truncates
 * mtime to 32 bits (`| 0`), and names every PAX-described entry `PaxHeader`
 * in its ustar block. A layer digest is forever, so the bytes are ours.
 */
import { Readable } from 'node:stream';
import { HoistError } from '../src/errors.js';
import type { LayerEntry } from './layer-entry.js';
import { sortLayerEntries } from './layer-plan.js';
import { LayerSequencer, type PlannedEntry, type TarOptions } from './layer-sequence.js';
import { END_OF_ARCHIVE, encodeHeader, paddingFor } from './tar-header.js';

export type { TarOptions } from './layer-sequence.js';

export type EntrySource = Iterable<LayerEntry> | AsyncIterable<LayerEntry>;

/** Small pieces (headers, small files, padding) are merged up to this size before they are handed on. */
const CHUNK = 64 * 1024;
const ZEROS = Buffer.alloc(512);

/**
 * The uncompressed tar of `entries`. Errors (HoistError UNSAFE_PATH,
 * INVALID_PATH, DUPLICATE_PATH, RESERVED_NAME, PARENT_NOT_DIRECTORY,
 * INVALID_HARDLINK, ENTRY_ORDER, TAR_FIELD_RANGE, and FILE_CHANGED when a
 * file's content does not have the size its entry announced) destroy the
 * stream.
 */
export function createTarStream(entries: EntrySource, opts: TarOptions = {}): Readable {
  return Readable.from(tarChunks(entries, opts), { objectMode: false, highWaterMark: CHUNK });
}

/** The tar as an async sequence of buffers. */
export async function* tarChunks(entries: EntrySource, opts: TarOptions = {}): AsyncGenerator<Buffer, void, undefined> {
  const sequencer = new LayerSequencer(opts); // checks the options before any entry is read
  const out = new Coalescer(CHUNK);
  for await (const entry of opts.ordered === true ? entries : await sorted(entries)) {
    for (const planned of sequencer.accept(entry)) {
      yield* out.add(encodeHeader(planned.header));
      if (planned.open === undefined || planned.header.size === 0) continue;
      yield* copyContent(planned, out);
    }
  }
  yield* out.add(END_OF_ARCHIVE);
  yield* out.flush();
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

async function* copyContent(planned: PlannedEntry, out: Coalescer): AsyncGenerator<Buffer, void, undefined> {
  const { name, size } = planned.header;
  let copied = 0;
  const source = planned.open?.();
  if (source === undefined) return;
  for await (const chunk of source) {
    const buf = toBuffer(chunk, name);
    copied += buf.length;
    if (copied > size) {
      source.destroy();
      throw fileChanged(name, size, `more than ${size}`);
    }
    yield* out.add(buf);
  }
  if (copied !== size) throw fileChanged(name, size, String(copied));
  const pad = paddingFor(size);
  if (pad > 0) yield* out.add(ZEROS.subarray(0, pad));
}

function fileChanged(name: string, size: number, read: string): HoistError {
  return new HoistError('FILE_CHANGED', `${name}: the layer entry says ${size} bytes but its content has ${read}`, {
    hint: 'the file changed while the layer was being written; nothing may write to the tree being snapshotted',
  });
}

function toBuffer(chunk: unknown, name: string): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError(`content of ${name} yielded ${typeof chunk}, not bytes (is an encoding set on the stream?)`);
}

/**
 * Copies small buffers into chunks of up to `limit` bytes; a buffer that is
 * already that large passes through without a copy.
 */
class Coalescer {
  private acc: Buffer;
  private used = 0;

  constructor(private readonly limit: number) {
    this.acc = Buffer.allocUnsafe(limit);
  }

  *add(buf: Buffer): Generator<Buffer, void, undefined> {
    if (buf.length >= this.limit) {
      yield* this.flush();
      yield buf;
      return;
    }
    if (this.used + buf.length > this.limit) yield* this.flush();
    buf.copy(this.acc, this.used);
    this.used += buf.length;
  }

  *flush(): Generator<Buffer, void, undefined> {
    if (this.used === 0) return;
    const full = this.acc.subarray(0, this.used);
    this.acc = Buffer.allocUnsafe(this.limit);
    this.used = 0;
    yield full;
  }
}
