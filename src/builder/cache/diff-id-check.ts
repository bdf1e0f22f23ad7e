/**
 * A layer blob checked against the diffID a cache record claims for it, in
 * the same pass that stores it: the blob's bytes go through unchanged, and
 * a decompressed copy of them is hashed beside. The stream errors before it
 * ends when the uncompressed content is not the diffID, so whatever reads it
 * (BlobStore.put) keeps nothing.
 */
import { PassThrough, pipeline as streamPipeline, Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { decompressor, sniffCompression } from '../../oci/compression.js';
import { verifyingStream, type Digest } from '../../oci/digest.js';
import { layerCompression } from '../../oci/media-types.js';

/** A pass-through of a layer blob of `mediaType` that fails unless its uncompressed content has digest `diffId`. */
export function diffIdCheck(mediaType: string, diffId: Digest, describe: string): Transform {
  let side: { input: PassThrough; done: Promise<void> } | undefined;
  const open = (head: Buffer): { input: PassThrough; done: Promise<void> } => {
    const input = new PassThrough();
    const undo = decompressor(layerCompression(mediaType) ?? sniffCompression(head));
    const discard = new Writable({ write: (_chunk, _enc, cb) => cb() });
    const stages = [input, ...(undo === undefined ? [] : [undo]), verifyingStream({ digest: diffId }, describe), discard];
    const done = pipeline(stages);
    done.catch(() => undefined); // reported through transform or flush
    return { input, done };
  };
  // An error of the side (bad compression, wrong diffID) is the one to report, not the write that it broke.
  const failed = (s: { done: Promise<void> }, err: Error, cb: (err: Error) => void): void => {
    s.done.then(
      () => cb(err),
      (sideErr: unknown) => cb(sideErr as Error),
    );
  };
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      const s = (side ??= open(chunk));
      s.input.write(chunk, (err) => (err ? failed(s, err, cb) : cb(null, chunk)));
    },
    flush(cb) {
      const s = (side ??= open(Buffer.alloc(0)));
      s.input.end();
      s.done.then(
        () => cb(),
        (err: unknown) => cb(err as Error),
      );
    },
  });
}

/** `blob` (as it downloads) through diffIdCheck; an error on either side reaches the reader, and a failed check releases the download. */
export function diffIdChecked(blob: Readable, mediaType: string, diffId: Digest, describe: string): Readable {
  return streamPipeline(blob, diffIdCheck(mediaType, diffId, describe), () => undefined);
}

/** Read `blob` to its end through diffIdCheck (a blob that is already stored, whose record is new). */
export async function checkDiffId(blob: Readable, mediaType: string, diffId: Digest, describe: string): Promise<void> {
  await pipeline(blob, diffIdCheck(mediaType, diffId, describe), new Writable({ write: (_chunk, _enc, cb) => cb() }));
}
