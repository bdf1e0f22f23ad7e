/**
 * Writing a tar archive to a stream the caller owns (standard output for
 * `-o type=oci,dest=-`, as buildx does). The stream is not ended: the caller
 * may still need it, and standard output is never closed by the library.
 */
import type { Writable } from 'node:stream';
import { TarWriter } from '../tar/index.js';

export async function writeTarToStream<T>(out: Writable, fill: (tar: TarWriter) => Promise<T>): Promise<T> {
  const writer = new TarWriter();
  const src = writer.output;
  let cleanup = (): void => undefined;
  const piped = new Promise<void>((resolve, reject) => {
    const fail = (err: Error): void => {
      src.unpipe(out);
      reject(err);
    };
    src.once('error', fail);
    out.once('error', fail);
    src.once('end', () => resolve());
    cleanup = () => {
      src.off('error', fail);
      out.off('error', fail);
    };
    src.pipe(out, { end: false });
  });
  const filled = fillTar(writer, fill);
  try {
    const [fillResult, output] = await Promise.allSettled([filled, piped]);
    if (output.status === 'rejected') throw output.reason;
    if (fillResult.status === 'rejected') throw fillResult.reason;
    if (out.writableNeedDrain) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    return fillResult.value;
  } finally {
    cleanup();
  }
}

/** Runs `fill` on `writer`, then ends the archive; a failed fill fails the tar output too. */
export function fillTar<T>(writer: TarWriter, fill: (tar: TarWriter) => Promise<T>): Promise<T> {
  return fill(writer).then(
    (value) => {
      writer.finish();
      return value;
    },
    (err: unknown) => {
      writer.abort(err instanceof Error ? err : new Error(String(err)));
      throw err;
    },
  );
}
