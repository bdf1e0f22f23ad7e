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
 * A block is stored when both hold:
 * - its bytes are spread so evenly (order-0 entropy >= ENTROPY_MIN bits a
 *   byte) that Huffman coding could not save more than about 0.4%;
 * - it repeats almost nothing deflate could point back to: content-defined
 *   anchors (a gear hash over the last 32 bytes, one position in 64 on
 *   average) find the same 32 bytes again within deflate's 32 KiB window
 *   (the dictionary included) for less than REPEAT_MAX of the block. The
 *   anchors are placed by content, so two copies of the same bytes get the
 *   same anchors wherever they lie; two packages' identical changelog.gz
 *   in one block are found this way.
 *
 * Measured on 256 KiB blocks against level 4, the default (bytes: what
 * the stored blocks cost across the whole input; CPU: the judgement, warm,
 * against deflating every block):
 * - noise: every block stored, a fifth of the CPU (0.9 ms a block against 4.5);
 * - .gz files and .debs: 104 of 152 blocks stored, +0.00%, about a third
 *   of the CPU; npm's cache: 46 of 270, +0.03%;
 * - compressed files (jar, whl, png, woff2; 200 MB): 22 of 762 stored,
 *   +0.04%; the judgement costs 5% (jar blocks look like noise until
 *   their repeats are found) and the stored blocks save 3%;
 * - a Debian 12 minbase rootfs: 3 of 463, the judgement 0.8%;
 *   executables and libraries: none, 0.4%.
 *
 * The judgement depends on the block's and the dictionary's bytes alone,
 * so it is part of the layer format: changing a constant here changes
 * digests.
 */

import type { ZlibOptions } from 'node:zlib';

/** Shorter blocks (a layer's last) are always deflated: too few bytes to judge. */
const MIN_JUDGED = 64 * 1024;

/**
 * Samples taken first, each in SAMPLES runs spread over the block: a block
 * whose sample shows bytes worth deflating (below its bound) is not judged
 * further. A sample's estimate runs low (16 KiB of noise measures about
 * 7.988 bits, 4 KiB about 7.955); a whole block must reach ENTROPY_MIN.
 */
const SAMPLES = 4;
const SAMPLE_STAGES = [
  { run: 1024, min: 7.85 },
  { run: 4096, min: 7.955 },
] as const;

const ENTROPY_MIN = 7.97;
const REPEAT_MAX = 0.001;

/** The gear hash's window, and the bytes an anchor match must share. */
const ANCHOR_SPAN = 32;
/** An anchor where the hash's top 6 bits are 0: one position in 64. */
const ANCHOR_SHIFT = 26;
const ANCHOR_SPACING = 64;
const WINDOW = 32 * 1024;
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
  if (options.level === 0 || !isIncompressible(data, options.dictionary as Uint8Array | undefined)) return options;
  return options.finishFlush === undefined ? { level: 0 } : { level: 0, finishFlush: options.finishFlush };
}

/** Whether deflate would leave `block` about as large as it is (see above); `dictionary` is what precedes it. */
export function isIncompressible(block: Uint8Array, dictionary?: Uint8Array): boolean {
  if (block.length < MIN_JUDGED) return false;
  for (const stage of SAMPLE_STAGES) if (sampleEntropy(block, stage.run) < stage.min) return false;
  if (entropy(block) < ENTROPY_MIN) return false;
  return !repeats(block, dictionary ?? new Uint8Array(0), Math.ceil((REPEAT_MAX * block.length) / ANCHOR_SPACING));
}

function sampleEntropy(block: Uint8Array, run: number): number {
  const counts = new Uint32Array(256);
  const stride = Math.floor((block.length - run) / (SAMPLES - 1));
  for (let s = 0; s < SAMPLES; s++) {
    const start = s * stride;
    for (let i = start; i < start + run; i++) counts[block[i] as number] = (counts[block[i] as number] as number) + 1;
  }
  return entropyOf(counts, SAMPLES * run);
}

/** Order-0 entropy in bits a byte: log2(n) - sum(c log2 c) / n. */
function entropyOf(counts: Uint32Array, n: number): number {
  let sum = 0;
  for (let k = 0; k < 256; k++) {
    const c = counts[k] as number;
    if (c > 0) sum += c * Math.log2(c);
  }
  return Math.log2(n) - sum / n;
}

function entropy(block: Uint8Array): number {
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
  return entropyOf(c0, block.length);
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
    if (previous < 0 || i - previous > WINDOW) continue;
    let same = true;
    for (let j = 0; j < ANCHOR_SPAN && same; j++) same = at(i - j) === at(previous - j);
    if (same && ++matches >= enough) return true;
  }
  return false;
}
