// What both benchmarks need to make the same bytes on every run: a seeded
// generator, two pools to cut file content from, and size arguments.

/** xorshift32: deterministic, fast enough to make a GiB in a few seconds. */
export function rng(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** Two pools of `size` bytes: one pseudo-random, one source-like text made of `words`. */
export function makePools(next, words, size) {
  const random = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i += 4) random.writeUInt32LE(next(), i);
  const text = Buffer.allocUnsafe(size);
  let i = 0;
  while (i < size) {
    const w = words[next() % words.length];
    i += text.write(next() % 8 === 0 ? `${w};\n  ` : `${w} `, i, size - i, 'latin1');
  }
  return { random, text };
}

/** `512M`, `1G`, `1.5GiB`... as bytes; `examples` goes into the error. */
export function parseSize(text, examples = '128M, 512M, 1G') {
  const m = /^(\d+(?:\.\d+)?)([KMG]?)i?B?$/i.exec(text);
  if (!m) throw new Error(`bad size ${text}; try ${examples}`);
  const unit = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2].toUpperCase()];
  return Math.round(Number(m[1]) * unit);
}
