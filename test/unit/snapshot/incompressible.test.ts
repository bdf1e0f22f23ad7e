import { constants, deflateRawSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { blockOptions, isIncompressible } from '../../../snapshot/incompressible.js';
import { GZIP_BLOCK_SIZE } from '../../../snapshot/parallel-gzip.js';
import { mixed, noise } from '../../helpers/gzip-reference.js';

const WINDOW = 32 * 1024;

/** What level 4 (the default) makes of `block`, as a share of its size. */
function deflatedShare(block: Buffer, dictionary?: Buffer): number {
  return deflateRawSync(block, { level: 4, memLevel: 9, ...(dictionary ? { dictionary } : {}) }).length / block.length;
}

/** Noise with `length` bytes from `from` copied to `to`. */
function withCopy(block: Buffer, from: number, to: number, length: number): Buffer {
  const b = Buffer.from(block);
  b.copy(b, to, from, from + length);
  return b;
}

describe('incompressible blocks', () => {
  it('judges noise incompressible, and deflate agrees', () => {
    const block = noise(GZIP_BLOCK_SIZE, 5);
    expect(isIncompressible(block)).toBe(true);
    expect(deflatedShare(block)).toBeGreaterThan(0.999);
  });

  it('judges compressed files incompressible', () => {
    // What a layer of .gz, .jar or .png files holds: deflate's own output.
    const gz = gzipSync(Buffer.concat([mixed(4 * GZIP_BLOCK_SIZE, 1), noise(4 * GZIP_BLOCK_SIZE, 2)]), { level: 9 });
    const block = gz.subarray(1000, 1000 + GZIP_BLOCK_SIZE);
    expect(isIncompressible(block)).toBe(true);
    expect(deflatedShare(block)).toBeGreaterThan(0.99);
  });

  it('deflates text, and noise with text in it', () => {
    expect(isIncompressible(mixed(GZIP_BLOCK_SIZE))).toBe(false);
    const block = noise(GZIP_BLOCK_SIZE, 6);
    block.write('FROM debian RUN apt-get update COPY . /app '.repeat(500), 100_000, 'latin1');
    expect(isIncompressible(block)).toBe(false);
    expect(deflatedShare(block)).toBeLessThan(0.95);
  });

  it('deflates noise that repeats itself within deflate\'s window', () => {
    // Two packages' identical changelog.gz, 6 KiB apart.
    const block = withCopy(noise(GZIP_BLOCK_SIZE, 7), 100_000, 110_000, 4096);
    expect(isIncompressible(block)).toBe(false);
    expect(deflatedShare(block)).toBeLessThan(0.99);
  });

  it('stores noise whose copy is farther back than deflate can point', () => {
    const block = withCopy(noise(GZIP_BLOCK_SIZE, 8), 10_000, 10_000 + WINDOW + 5000, 4096);
    expect(isIncompressible(block)).toBe(true);
    expect(deflatedShare(block)).toBeGreaterThan(0.999);
  });

  it('counts a repeat of the dictionary, which deflate points back to', () => {
    const dictionary = noise(WINDOW, 9);
    const block = noise(GZIP_BLOCK_SIZE, 10);
    dictionary.copy(block, 2000, WINDOW - 8000, WINDOW - 4000);
    expect(isIncompressible(block, dictionary)).toBe(false);
    expect(deflatedShare(block, dictionary)).toBeLessThan(0.99);
    // Without it, the same block has nothing to repeat.
    expect(isIncompressible(block)).toBe(true);
  });

  it('deflates a block too short to judge', () => {
    expect(isIncompressible(noise(60 * 1024, 11))).toBe(false);
    expect(isIncompressible(noise(64 * 1024, 11))).toBe(true);
  });

  it('stores with level 0 and no dictionary, keeping the flush, and leaves other blocks as asked', () => {
    const dictionary = noise(WINDOW, 12);
    const options = { level: 4, memLevel: 9, finishFlush: constants.Z_SYNC_FLUSH, dictionary };
    expect(blockOptions(noise(GZIP_BLOCK_SIZE, 13), options)).toEqual({ level: 0, finishFlush: constants.Z_SYNC_FLUSH });
    const text = mixed(GZIP_BLOCK_SIZE);
    expect(blockOptions(text, options)).toBe(options);
    const stored = { level: 0, finishFlush: constants.Z_FINISH };
    expect(blockOptions(noise(GZIP_BLOCK_SIZE, 14), stored)).toBe(stored);
  });
});
