/**
 * A base layer as the bytes of its tar: a blob file, a stream, or a function
 * that opens one (an image's `Layer.uncompressed`). The compression is
 * recognised from the first bytes (gzip, zstd or none) and undone as a
 * stream through src/oci/compression.ts, so nothing is held in memory but
 * the chunks in flight.
 */
import { createReadStream } from 'node:fs';
import { pipeline, Readable } from 'node:stream';
import { decompressor, sniffCompression } from '../../src/oci/compression.js';

/** A blob path, a byte stream, or a function that opens one (called once, when the layer's turn comes). */
export type LayerInput = string | AsyncIterable<Uint8Array> | (() => Promise<AsyncIterable<Uint8Array>>);

/** Reads of a blob file: fewer, larger reads than the 64 KiB default. */
const READ_CHUNK = 1024 * 1024;

/** Bytes enough to recognise every compression sniffCompression knows. */
const MAGIC_BYTES = 4;

/** The uncompressed tar of `input`. Breaking off the iteration closes the source. */
export async function openLayerTar(input: LayerInput): Promise<AsyncIterable<Uint8Array>> {
  const source = typeof input === 'string' ? createReadStream(input, { highWaterMark: READ_CHUNK }) : typeof input === 'function' ? await input() : input;
  const it = source[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let headBytes = 0;
  let ended = false;
  while (headBytes < MAGIC_BYTES) {
    const next = await it.next();
    if (next.done === true) {
      ended = true;
      break;
    }
    head.push(next.value);
    headBytes += next.value.length;
  }
  const compression = sniffCompression(Buffer.concat(head));
  async function* replay(): AsyncGenerator<Uint8Array, void, undefined> {
    try {
      yield* head;
      if (ended) return;
      for (;;) {
        const next = await it.next();
        if (next.done === true) return;
        yield next.value;
      }
    } finally {
      if (!ended) await it.return?.();
    }
  }
  const undo = decompressor(compression);
  if (undo === undefined) return replay();
  // Errors anywhere (the source, corrupt compressed data) reach whoever reads the result.
  return pipeline(Readable.from(replay(), { objectMode: false }), undo, () => undefined);
}
