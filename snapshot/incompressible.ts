/**
 * Which gzip blocks deflate cannot shrink, judged in a fraction of the time
 * deflating them takes: parallel-gzip stores those (zlib's level 0) instead.
 *
 * zlib spends as long on bytes it cannot compress as on text: 16-17 ns a
 * byte at levels 1 and 4 on noise, where its output ends up a few bytes
 * larger than the input. Layers hold much of that: compressed files (.gz,
 * .jar, .whl, .png, .woff2, npm's tarballs), encrypted or random data.
 * klauspost's encoder (buildah, podman) skips ahead through such bytes;
 * zlib has no such mode, so the judgement is made before it is called.
 *
 * A block is stored when all of these hold:
 * - its bytes are spread so evenly (SPREAD_LIMIT: about an order-0
 *   entropy of 7.97 bits a byte or more) that Huffman coding could not
 *   save more than about 0.4%;
 * - it repeats almost nothing deflate could point back to: content-defined
 *   anchors (a gear hash over the last 32 bytes, one position in 64 on
 *   average) find the same 32 bytes again within deflate's reach (the
 *   dictionary included) for less than REPEAT_MAX of the block. The
 *   anchors are placed by content, so two copies of the same bytes get the
 *   same anchors wherever they lie; two packages' identical changelog.gz
 *   in one block are found this way;
 * - zlib's level 1 cannot shrink its middle 32 KiB by 1% (shorter
 *   repeats, which the anchors miss).
 *
 * Measured on 256 KiB blocks against level 4, the default (bytes: what
 * the stored blocks cost across the whole input; CPU: the judgement, warm,
 * against deflating every block):
 * - noise: every block stored, 0.068% fewer bytes, 28% of the CPU (1.3 ms
 *   a block against 4.6);
 * - .gz files and .debs: 104 of 152 blocks stored, +0.00%, 1.1 ms a
 *   block; npm's cache: 48 of 270, +0.05%; /usr/share/doc: 49 of 438,
 *   +0.01%;
 * - compressed files (jar, whl, png, woff2; 200 MB): 16 of 762 stored,
 *   +0.02%; the judgement costs 5% of the deflate CPU (jar blocks look
 *   like noise until their repeats are found) and the stored blocks save
 *   2%;
 * - a Debian 12 minbase rootfs: 3 of 463, the judgement 0.8%;
 *   executables and libraries: none, 0.2%.
 *
 * The judgement depends on the block's and the dictionary's bytes alone,
 * so it is part of the layer format: changing a constant here changes
 * digests.
 */

import { deflateRawSync, type ZlibOptions } from 'node:zlib';

/** Shorter blocks (a layer's last) are always deflated: too few bytes to judge. */
const MIN_JUDGED = 64 * 1024;

/**
 * How evenly a block's bytes are spread, in integers (so that the layer
 * format does not rest on floating point): with `n` bytes and `s` the sum of
 * the squared count of each byte value, 256 s / n^2 - 1 - 256 / n is about 0
 * for noise (whose counts vary as a Poisson's: the 256 / n) and grows as
 * some values are more frequent than others. A block goes on only while
 * this excess is at most num / den. 0.05 for the whole block is about an
 * order-0 entropy of 7.97 bits a byte: Huffman coding could save about 0.4%.
 */
const SPREAD_LIMIT = { num: 1, den: 20 };

/**
 * Samples taken first, each in SAMPLES runs spread over the block: a block
 * whose sample shows bytes worth deflating is not judged further. A
 * sample's excess is noisier (noise measured at most 0.015 with 4 x 1 KiB,
 * 0.003 with 4 x 4 KiB), so its bounds are looser; the block must pass
 * SPREAD_LIMIT anyway.
 */
const SAMPLES = 4;
const SAMPLE_STAGES = [
  { run: 1024, num: 1, den: 4 },
  { run: 4096, num: 1, den: 16 },
] as const;

/** Repeats found by the anchors, as a share of the block, at most. */
const REPEAT_MAX = 0.001;

/**
 * The last check: zlib's level 1 over the middle DEFLATE_SAMPLE bytes must
 * leave at least DEFLATE_SAMPLE_KEEP (in %) of them. It finds what the
 * anchors cannot: repeats shorter than 32 bytes, such as a table of random
 * 8- to 32-byte keys, which level 4 shrinks to 0.3-0.9 of its size while its
 * bytes look like noise. Noise leaves 100.03%.
 */
const DEFLATE_SAMPLE = 32 * 1024;
const DEFLATE_SAMPLE_KEEP = 99;

/** The gear hash's window, and the bytes an anchor match must share. */
const ANCHOR_SPAN = 32;
/** An anchor where the hash's top 6 bits are 0: one position in 64. */
const ANCHOR_SHIFT = 26;
const ANCHOR_SPACING = 64;
/** The farthest back deflate points (zlib's MAX_DIST: its 32 KiB window less MIN_LOOKAHEAD). */
const MAX_DISTANCE = 32 * 1024 - 262;
const SLOT_BITS = 14;

/** 256 fixed pseudo-random words (xorshift32 from a fixed seed): the gear hash's table. */
const GEAR: Int32Array = (() => {
  const table = new Int32Array(256);
  let x = 0x9e3779b9;
  for (let i = 0; i < 256; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    table[i] = x;
  }
  return table;
})();

/**
 * The options a block of parallel-gzip's format is deflated with: zlib's
 * level 0 (stored blocks, no dictionary) when deflate could not shrink it,
 * else `options` unchanged. Where the block is deflated (libuv's pool, a
 * DeflatePool thread) the same function decides, so the bytes are the same.
 */
export function blockOptions(data: Uint8Array, options: ZlibOptions): ZlibOptions {
  if (options.level === 0 || !isIncompressible(data, asBytes(options.dictionary))) return options;
  return options.finishFlush === undefined ? { level: 0 } : { level: 0, finishFlush: options.finishFlush };
}

function asBytes(dictionary: ZlibOptions['dictionary']): Uint8Array | undefined {
  if (dictionary === undefined) return undefined;
  if (ArrayBuffer.isView(dictionary)) return new Uint8Array(dictionary.buffer, dictionary.byteOffset, dictionary.byteLength);
  return new Uint8Array(dictionary);
}

/** Whether deflate would leave `block` about as large as it is (see above); `dictionary` is what precedes it. */
export function isIncompressible(block: Uint8Array, dictionary?: Uint8Array): boolean {
  if (block.length < MIN_JUDGED) return false;
  for (const stage of SAMPLE_STAGES) if (!evenlySpread(sampleCounts(block, stage.run), SAMPLES * stage.run, stage)) return false;
  if (!evenlySpread(blockCounts(block), block.length, SPREAD_LIMIT)) return false;
  if (repeats(block, dictionary ?? new Uint8Array(0), Math.ceil((REPEAT_MAX * block.length) / ANCHOR_SPACING))) return false;
  const middle = Math.floor((block.length - DEFLATE_SAMPLE) / 2);
  const sample = block.subarray(middle, middle + DEFLATE_SAMPLE);
  return deflateRawSync(sample, { level: 1, memLevel: 9 }).length * 100 >= sample.length * DEFLATE_SAMPLE_KEEP;
}

/** See SPREAD_LIMIT: (256 s - n^2 - 256 n) / n^2 <= num / den, exactly (every term is an integer below 2^53). */
function evenlySpread(counts: Uint32Array, n: number, limit: { num: number; den: number }): boolean {
  let s = 0;
  for (let k = 0; k < 256; k++) s += (counts[k] as number) * (counts[k] as number);
  return (256 * s - n * n - 256 * n) * limit.den <= n * n * limit.num;
}

function sampleCounts(block: Uint8Array, run: number): Uint32Array {
  const counts = new Uint32Array(256);
  const stride = Math.floor((block.length - run) / (SAMPLES - 1));
  for (let s = 0; s < SAMPLES; s++) {
    const start = s * stride;
    for (let i = start; i < start + run; i++) counts[block[i] as number] = (counts[block[i] as number] as number) + 1;
  }
  return counts;
}

function blockCounts(block: Uint8Array): Uint32Array {
  // Four tables, so that runs of one byte value do not wait on each other's counts.
  const counts = [new Uint32Array(256), new Uint32Array(256), new Uint32Array(256), new Uint32Array(256)] as const;
  const [c0, c1, c2, c3] = counts;
  const end = block.length - (block.length % 4);
  for (let i = 0; i < end; i += 4) {
    c0[block[i] as number] = (c0[block[i] as number] as number) + 1;
    c1[block[i + 1] as number] = (c1[block[i + 1] as number] as number) + 1;
    c2[block[i + 2] as number] = (c2[block[i + 2] as number] as number) + 1;
    c3[block[i + 3] as number] = (c3[block[i + 3] as number] as number) + 1;
  }
  for (let i = end; i < block.length; i++) c0[block[i] as number] = (c0[block[i] as number] as number) + 1;
  for (let k = 0; k < 256; k++) c0[k] = (c0[k] as number) + (c1[k] as number) + (c2[k] as number) + (c3[k] as number);
  return c0;
}

/**
 * Whether `block` repeats earlier bytes within deflate's window at `enough`
 * anchors or more (each stands for about ANCHOR_SPACING bytes; see above).
 */
function repeats(block: Uint8Array, dictionary: Uint8Array, enough: number): boolean {
  const d = dictionary.length;
  const at = (i: number): number => (i < d ? (dictionary[i] as number) : (block[i - d] as number));
  // Position + 1 of the last anchor per slot (0: none); positions count from the dictionary's start.
  const slots = new Int32Array(1 << SLOT_BITS);
  const mask = (1 << SLOT_BITS) - 1;
  let hash = 0;
  for (let i = 0; i < d; i++) {
    hash = ((hash << 1) + (GEAR[dictionary[i] as number] as number)) | 0;
    if (hash >>> ANCHOR_SHIFT === 0 && i >= ANCHOR_SPAN - 1) slots[(hash ^ (hash >>> SLOT_BITS)) & mask] = i + 1;
  }
  let matches = 0;
  for (let k = 0; k < block.length; k++) {
    hash = ((hash << 1) + (GEAR[block[k] as number] as number)) | 0;
    const i = d + k;
    if (hash >>> ANCHOR_SHIFT !== 0 || i < ANCHOR_SPAN - 1) continue;
    const slot = (hash ^ (hash >>> SLOT_BITS)) & mask;
    const previous = (slots[slot] as number) - 1;
    slots[slot] = i + 1;
    if (previous < 0 || i - previous > MAX_DISTANCE) continue;
    let same = true;
    for (let j = 0; j < ANCHOR_SPAN && same; j++) same = at(i - j) === at(previous - j);
    if (same && ++matches >= enough) return true;
  }
  return false;
}
