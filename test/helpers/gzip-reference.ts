/**
 * Data for parallel-gzip's tests, and the format its output must keep
 * (every layer digest depends on it), stated independently of it.
 */
import { constants, crc32, deflateRawSync } from 'node:zlib';
import { isIncompressible } from '../../snapshot/incompressible.js';
import { GZIP_BLOCK_SIZE } from '../../snapshot/parallel-gzip.js';

/** Half pseudo-random, half text, in 4 KiB runs: both deflate paths get work. */
export function mixed(size: number, seed = 7): Buffer {
  const buf = Buffer.alloc(size);
  let x = seed;
  for (let off = 0; off < size; off += 4096) {
    const end = Math.min(size, off + 4096);
    if ((off / 4096) % 2 === 0) {
      for (let i = off; i < end; i++) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        buf[i] = x >>> 24;
      }
    } else {
      buf.write('layer digest manifest config index blob '.repeat(120), off, end - off, 'latin1');
    }
  }
  return buf;
}

/** Seeded bytes that deflate cannot shrink. */
export function noise(size: number, seed: number): Buffer {
  const buf = Buffer.alloc(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    buf[i] = x >>> 24;
  }
  return buf;
}

/**
 * The stream as the writer made it before it took one output buffer per
 * block, written out one block at a time with zlib's sync API and Node's
 * default 16 KiB output buffers: an independent statement of the format
 * whose bytes every layer digest depends on.
 */
export function reference(data: Buffer, level: number): Buffer {
  const parts = [Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, level === 9 ? 2 : level === 1 ? 4 : 0, 0xff])];
  for (let off = 0; ; off += GZIP_BLOCK_SIZE) {
    // A length that is a multiple of the block size ends with an empty last block, as the writer finishes.
    const last = off + GZIP_BLOCK_SIZE > data.length;
    // hoist's memLevel, 9 (zlib's default is 8).
    const options = { level, memLevel: 9, finishFlush: last ? constants.Z_FINISH : constants.Z_SYNC_FLUSH };
    const dictionary = off > 0 ? data.subarray(off - 32 * 1024, off) : undefined;
    const block = data.subarray(off, off + GZIP_BLOCK_SIZE);
    // A block deflate cannot shrink is stored, with no dictionary (incompressible.ts has its own tests).
    if (level > 0 && isIncompressible(block, dictionary)) parts.push(deflateRawSync(block, { level: 0, finishFlush: options.finishFlush }));
    else parts.push(deflateRawSync(block, dictionary ? { ...options, dictionary } : options));
    if (last) break;
  }
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(data) >>> 0, 0);
  trailer.writeUInt32LE(data.length % 2 ** 32, 4);
  parts.push(trailer);
  return Buffer.concat(parts);
}

/**
 * A full block whose deflated size (one big output buffer, level 6 at
 * hoist's memLevel) ends just past a multiple of 16 KiB, where 16 KiB
 * buffers make zlib add a second empty stored block: noise and text after a
 * run of zeros, the shortest run that shows it. Deflated, not stored: text
 * keeps it compressible (incompressible.ts).
 */
export function blockAtBufferEdge(): Buffer {
  const options = { level: 6, memLevel: 9, finishFlush: constants.Z_SYNC_FLUSH };
  const base = mixed(GZIP_BLOCK_SIZE, 11);
  for (let zeros = 0; zeros < 8192; zeros++) {
    const b = Buffer.from(base);
    b.fill(0, 0, zeros);
    const n = deflateRawSync(b, { ...options, chunkSize: 2 * GZIP_BLOCK_SIZE }).length;
    if (n % (16 * 1024) <= 5 && deflateRawSync(b, options).length !== n) return b;
  }
  throw new Error('no block found at a 16 KiB edge');
}
