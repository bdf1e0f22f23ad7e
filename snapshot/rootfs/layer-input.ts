/**
 * A base layer as the bytes of its tar: a blob file, a stream, or a function
 * that opens one (an image's `Layer.uncompressed`). The compression is
 * recognised from the first bytes (gzip, zstd or none) and undone as a
 * stream through src/oci/compression.ts, so nothing is held in memory but
 * the chunks in flight. A Node without zstd in zlib (before 22.15) runs the
 * `zstd` program instead, as ADD does for its archives.
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { PassThrough, pipeline, Readable } from 'node:stream';
import { HoistError } from '../../src/errors.js';
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
  let undo: ReturnType<typeof decompressor>;
  try {
    undo = decompressor(compression);
  } catch (err) {
    if (compression === 'zstd' && err instanceof HoistError && err.code === 'UNSUPPORTED_COMPRESSION') return zstdProgram(replay());
    throw err;
  }
  if (undo === undefined) return replay();
  // Errors anywhere (the source, corrupt compressed data) reach whoever reads the result.
  return pipeline(Readable.from(replay(), { objectMode: false }), undo, () => undefined);
}

const STDERR_LIMIT = 4096;

/** `zstd -dc` fed from `source`; its failures (missing program, corrupt data) reach the reader. */
function zstdProgram(source: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array> {
  const child = spawn('zstd', ['-dc', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out = new PassThrough();
  let errText = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    if (errText.length < STDERR_LIMIT) errText += s.slice(0, STDERR_LIMIT - errText.length);
  });
  // The child may die first (EPIPE): its exit status says why.
  pipeline(Readable.from(source, { objectMode: false }), child.stdin, () => undefined);
  child.stdout.pipe(out, { end: false });
  child.once('error', (err: NodeJS.ErrnoException) => {
    out.destroy(
      err.code === 'ENOENT'
        ? new HoistError('MISSING_DECOMPRESSOR', 'the layer is zstd-compressed, and this Node.js has no zstd and the `zstd` program is not installed', {
            hint: 'install zstd (Debian/Ubuntu: apt-get install zstd; Alpine: apk add zstd), or run hoist on Node.js 22.15 or newer',
            cause: err,
          })
        : err,
    );
  });
  child.once('close', (code, signal) => {
    if (code === 0) {
      out.end();
      return;
    }
    const how = code === null ? `was killed by ${signal ?? 'a signal'}` : `exited with status ${code}`;
    out.destroy(new Error(`zstd -dc ${how}${errText.trim() === '' ? '' : `: ${errText.trim()}`}`));
  });
  // A reader that stops early must not leave the program behind.
  out.once('close', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill();
  });
  return out;
}
