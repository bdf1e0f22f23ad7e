import { HoistError } from '../errors.js';

/** Manifests, indexes and configs are small; anything larger than this is refused. */
export const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;

/**
 * Read a small document (manifest, config, index.json, a registry's JSON
 * answer) fully into memory, refusing more than `maxBytes`: the stream is
 * destroyed and `tooLarge()` thrown (by default DOCUMENT_TOO_LARGE). Never
 * use this for layers.
 */
export async function readBounded(
  stream: AsyncIterable<unknown> & { destroy(): void },
  what: string,
  maxBytes: number = MAX_DOCUMENT_BYTES,
  tooLarge: () => Error = () => new HoistError('DOCUMENT_TOO_LARGE', `${what} is larger than ${maxBytes} bytes`),
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    total += buf.length;
    if (total > maxBytes) {
      stream.destroy();
      throw tooLarge();
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}
