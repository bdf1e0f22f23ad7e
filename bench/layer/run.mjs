// Layer writer benchmark: hoist vs `tar -c -C DIR . | gzip -6 | sha256sum`
// on the same generated tree, in the same run. See README.md.
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { makePools, parseSize, rng } from '../lib/seeded-data.mjs';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '1G' },
    level: { type: 'string', default: '6' },
    runs: { type: 'string', default: '1' },
    concurrency: { type: 'string' },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});

const MiB = 1024 * 1024;
const target = parseSize(values.size, '256M, 1G, 2G');
const level = Number(values.level);
const runs = Number(values.runs);

// ---- deterministic tree -------------------------------------------------

const WORDS = (
  'const let function return import export from async await class extends new this if else for while of in ' +
  'true false null undefined value result error stream buffer layer digest config manifest index build stage ' +
  'copy run env arg workdir user entrypoint cmd label expose volume healthcheck shell onbuild stopsignal'
).split(' ');

const POOL = 8 * MiB;

/**
 * `size` bytes in 4 KiB blocks, ~40% random (incompressible), ~60% text,
 * each block from a random place in its pool. Deflate's window is 32 KiB,
 * so re-use of pool bytes at random distances gives it nothing for free.
 */
function content(size, next, pools) {
  const buf = Buffer.allocUnsafe(size);
  for (let off = 0; off < size; off += 4096) {
    const n = Math.min(4096, size - off);
    const pool = next() % 10 < 4 ? pools.random : pools.text;
    const from = next() % (POOL - 4096);
    pool.copy(buf, off, from, from + n);
  }
  return buf;
}

/**
 * About 30% of the bytes in small files (0.1-16 KiB), 40% medium (64 KiB-4 MiB),
 * 30% in a few large ones (32-96 MiB), spread over nested directories.
 */
function generateTree(root, total) {
  const next = rng(0x5eed);
  const pools = makePools(next, WORDS, POOL);
  const stats = { files: 0, dirs: 0, bytes: 0 };
  const dirs = [];
  for (let a = 0; a < 16; a++) {
    for (let b = 0; b < 8; b++) {
      const d = join(root, `pkg${String(a).padStart(2, '0')}`, `mod${b}`);
      mkdirSync(d, { recursive: true });
      dirs.push(d);
    }
  }
  stats.dirs = 16 + 16 * 8;
  const classes = [
    { share: 0.3, min: 100, max: 16 * 1024 },
    { share: 0.4, min: 64 * 1024, max: 4 * MiB },
    { share: 0.3, min: 32 * MiB, max: 96 * MiB },
  ];
  for (const [ci, c] of classes.entries()) {
    let budget = Math.floor(total * c.share);
    for (let n = 0; budget > 0; n++) {
      const size = Math.min(budget, c.min + (next() % (c.max - c.min)));
      const d = dirs[next() % dirs.length];
      writeFileSync(join(d, `f${ci}-${n}.dat`), content(size, next, pools));
      budget -= size;
      stats.files++;
      stats.bytes += size;
    }
  }
  return stats;
}

// ---- measurements ---------------------------------------------------------

function wall(fn) {
  return async (...args) => {
    const t = process.hrtime.bigint();
    const out = await fn(...args);
    return { out, seconds: Number(process.hrtime.bigint() - t) / 1e9 };
  };
}

const runHoist = wall(
  (dir) =>
    new Promise((resolve, reject) => {
      const child = fileURLToPath(new URL('./hoist-child.mjs', import.meta.url));
      const args = [child, dir, String(level), ...(values.concurrency ? [values.concurrency] : [])];
      execFile(process.execPath, args, { maxBuffer: 1 << 20 }, (err, stdout) =>
        err ? reject(err) : resolve(JSON.parse(stdout)),
      );
    }),
);

const runTarGzip = wall(
  (dir) =>
    new Promise((resolve, reject) => {
      // /usr/bin/time counts the pipeline's processes too (sh waits for them).
      const sh = spawn('/usr/bin/time', ['-f', '%U %S', 'sh', '-c', `tar -c -C '${dir}' . | gzip -${level} | sha256sum`], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      sh.stdout.on('data', (d) => (out += d));
      sh.stderr.on('data', (d) => (err += d));
      sh.on('close', (code) => {
        if (code !== 0) return reject(new Error(`tar pipeline exited ${code}: ${err}`));
        const [user, sys] = err.trim().split('\n').pop().split(' ').map(Number);
        resolve({ digest: out.trim().split(' ')[0], cpuSeconds: user + sys });
      });
    }),
);

const mbps = (bytes, s) => bytes / MiB / s;

const root = values.dir ?? mkdtempSync(join(tmpdir(), 'hoist-bench-layer-'));
try {
  console.log(`generating ${(target / MiB).toFixed(0)} MiB tree in ${root} ...`);
  const gen = wall(async () => generateTree(root, target));
  const { out: tree, seconds: genSeconds } = await gen();
  console.log(`  ${tree.files} files, ${tree.dirs} dirs, ${(tree.bytes / MiB).toFixed(0)} MiB in ${genSeconds.toFixed(1)} s`);
  console.log(`node ${process.version}, ${availableParallelism()} CPUs, gzip level ${level}, hoist gzip concurrency ${values.concurrency ?? 'default'}`);
  console.log('MB/s = MiB of file content per wall-clock second, process start included\n');

  const rows = [];
  if (runs < 1) process.exit(0); // --runs 0: only make the tree (with --dir, to keep it)
  for (let r = 1; r <= runs; r++) {
    const h = await runHoist(root);
    const t = await runTarGzip(root);
    rows.push({ h, t });
    console.log(
      `run ${r}: hoist ${mbps(tree.bytes, h.seconds).toFixed(1)} MB/s (${h.seconds.toFixed(2)} s, peak RSS ${(h.out.maxRssKiB / 1024).toFixed(0)} MB)` +
        ` | tar|gzip|sha256sum ${mbps(tree.bytes, t.seconds).toFixed(1)} MB/s (${t.seconds.toFixed(2)} s)` +
        ` | ratio hoist/tar ${(t.seconds / h.seconds).toFixed(2)}` +
        ` | cpu s hoist ${h.out.cpuSeconds.toFixed(1)}, tar|gzip ${t.out.cpuSeconds.toFixed(1)}; load ${loadavg()[0].toFixed(2)}`,
    );
  }
  const bestH = Math.min(...rows.map((x) => x.h.seconds));
  const bestT = Math.min(...rows.map((x) => x.t.seconds));
  const peak = Math.max(...rows.map((x) => x.h.out.maxRssKiB)) / 1024;
  const last = rows[rows.length - 1].h.out;
  console.log(`\nhoist layer: diffID ${last.diffId}`);
  console.log(`             digest ${last.digest}`);
  console.log(`             ${(last.uncompressedSize / MiB).toFixed(1)} MiB tar -> ${(last.size / MiB).toFixed(1)} MiB gzip`);
  console.log(`best: hoist ${mbps(tree.bytes, bestH).toFixed(1)} MB/s, tar|gzip ${mbps(tree.bytes, bestT).toFixed(1)} MB/s, ratio ${(bestT / bestH).toFixed(2)}`);
  const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const medRatio = median(rows.map((x) => x.t.seconds / x.h.seconds));
const cpuH = median(rows.map((x) => x.h.out.cpuSeconds));
const cpuT = median(rows.map((x) => x.t.out.cpuSeconds));
console.log(`median ratio ${medRatio.toFixed(2)}; median CPU seconds hoist ${cpuH.toFixed(1)}, tar|gzip|sha256sum ${cpuT.toFixed(1)} (hoist/tar ${(cpuH / cpuT).toFixed(2)})`);
console.log(
  `on ${availableParallelism()} idle cores hoist can at best be tar|gzip CPU / (hoist CPU / cores) = ${(cpuT / (cpuH / availableParallelism())).toFixed(2)}x as fast; load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
);
console.log(`hoist peak RSS ${peak.toFixed(0)} MB (target < 200 MB): ${peak < 200 ? 'ok' : 'OVER'}`);
} finally {
  if (!values.keep && values.dir === undefined) rmSync(root, { recursive: true, force: true });
}
