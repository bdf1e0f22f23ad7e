import type { Readable } from 'node:stream';
import { HoistError } from '../errors.js';

/** Manifests, indexes and configs are small; anything larger than this is refused. */
export const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;

/**
 * Read a small document (manifest, config, index.json) fully into memory,
 * refusing more than `maxBytes`. Never use this for layers.
 */
export async function readBounded(stream: Readable, what: string, maxBytes: number = MAX_DOCUMENT_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    total += buf.length;
    if (total > maxBytes) {
      stream.destroy();
      throw new HoistError('DOCUMENT_TOO_LARGE', `${what} is larger than ${maxBytes} bytes`);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}
