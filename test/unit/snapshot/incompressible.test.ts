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

  it('deflates a table of short random keys, whose repeats the anchors miss', () => {
    // 16-byte keys from a table of 4,000: the bytes look like noise, and no 32 bytes repeat.
    const table = noise(16 * 4000, 15);
    const pick = noise(GZIP_BLOCK_SIZE, 16);
    const block = Buffer.alloc(GZIP_BLOCK_SIZE);
    for (let o = 0; o < GZIP_BLOCK_SIZE; o += 16) {
      const key = pick.readUInt32LE(o) % 4000;
      table.copy(block, o, key * 16, key * 16 + 16);
    }
    expect(isIncompressible(block)).toBe(false);
    expect(deflatedShare(block)).toBeLessThan(0.8);
  });

  it('draws its lines where it did: which blocks are stored is part of every layer digest', () => {
    const verdicts: string[] = [];
    for (const pct of [0.5, 1, 1.5, 2, 3, 6]) {
      // Noise with every (100 / pct)th byte zeroed: less evenly spread.
      const block = noise(GZIP_BLOCK_SIZE, 100 + pct * 10);
      for (let i = 0; i < GZIP_BLOCK_SIZE; i += Math.round(100 / pct)) block[i] = 0;
      verdicts.push(`zeros ${pct}%: ${isIncompressible(block) ? 'stored' : 'deflated'}`);
    }
    for (const length of [128, 256, 512, 1024]) {
      const block = withCopy(noise(GZIP_BLOCK_SIZE, 200 + length), 140_000, 150_000, length);
      verdicts.push(`repeat of ${length}: ${isIncompressible(block) ? 'stored' : 'deflated'}`);
    }
    expect(verdicts).toEqual([
      'zeros 0.5%: stored',
      'zeros 1%: stored',
      'zeros 1.5%: deflated',
      'zeros 2%: deflated',
      'zeros 3%: deflated',
      'zeros 6%: deflated',
      'repeat of 128: stored',
      'repeat of 256: stored',
      'repeat of 512: deflated',
      'repeat of 1024: deflated',
    ]);
  });

  it('deflates a block too short to judge', () => {
    expect(isIncompressible(noise(60 * 1024, 11))).toBe(false);
    expect(isIncompressible(noise(64 * 1024, 11))).toBe(true);
  });

  it('stores with level 0 and no dictionary, keeping the flush, and leaves other blocks as asked', () => {
    const dictionary = noise(WINDOW, 12);
    const options = { level: 4, memLevel: 9, finishFlush: constants.Z_SYNC_FLUSH, dictionary };
    expect(blockOptions(noise(GZIP_BLOCK_SIZE, 13), options)).toEqual({ level: 0, finishFlush: constants.Z_SYNC_FLUSH });
    // A dictionary given as another view of its bytes is read as the same bytes: here, what the block repeats.
    const repeating = noise(GZIP_BLOCK_SIZE, 17);
    dictionary.copy(repeating, 2000, WINDOW - 9000, WINDOW - 1000);
    const view = new DataView(dictionary.buffer, dictionary.byteOffset, dictionary.byteLength);
    expect(blockOptions(repeating, { ...options, dictionary: view }).level).toBe(4);
    expect(blockOptions(repeating, options).level).toBe(4);
    expect(blockOptions(repeating, { level: 4, finishFlush: constants.Z_SYNC_FLUSH }).level).toBe(0);
    const text = mixed(GZIP_BLOCK_SIZE);
    expect(blockOptions(text, options)).toBe(options);
    const stored = { level: 0, finishFlush: constants.Z_FINISH };
    expect(blockOptions(noise(GZIP_BLOCK_SIZE, 14), stored)).toBe(stored);
  });
});
