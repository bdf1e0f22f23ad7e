// Rootfs unpack benchmark: hoist's applyLayers against `tar -xzpf` on the
// same gzip layer, alternating, median of the runs. See README.md.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { rng } from '../lib/seeded-data.mjs';

const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '20000' },
    big: { type: 'string', default: '256' },
    runs: { type: 'string', default: '3' },
  },
});
const files = Number(values.files);
const bigMiB = Number(values.big);
const runs = Number(values.runs);

const work = mkdtempSync(join(tmpdir(), 'hoist-bench-rootfs-'));
const src = join(work, 'src');
const next = rng(42);
// Small files (0.1-16 KiB) in directories of 100, like a distribution's /usr, and one large file.
for (let i = 0; i < files; i++) {
  const dir = join(src, `d${Math.floor(i / 100)}`);
  if (i % 100 === 0) mkdirSync(dir, { recursive: true });
  const size = 100 + (next() % 16_284);
  const buf = Buffer.alloc(size);
  for (let j = 0; j < size; j++) buf[j] = next() & 0xff;
  writeFileSync(join(dir, `f${i}`), buf);
}
if (bigMiB > 0) execFileSync('sh', ['-c', `head -c ${bigMiB}M /dev/urandom > "${join(src, 'big.bin')}"`]);
const layer = join(work, 'layer.tar.gz');
execFileSync('sh', ['-c', `tar -C "${src}" -cf - . | gzip -1 > "${layer}"`]);
rmSync(src, { recursive: true, force: true });

const child = fileURLToPath(new URL('./hoist-child.mjs', import.meta.url));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const hoist = [];
const tar = [];
let rss = 0;
for (let r = 0; r < runs; r++) {
  const a = join(work, 'a');
  rmSync(a, { recursive: true, force: true });
  mkdirSync(a);
  const out = spawnSync(process.execPath, [child, layer, a], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(out.stderr);
  const res = JSON.parse(out.stdout);
  hoist.push(res.ms);
  rss = Math.max(rss, res.maxRssKiB);
  rmSync(a, { recursive: true, force: true });

  const b = join(work, 'b');
  rmSync(b, { recursive: true, force: true });
  mkdirSync(b);
  const t0 = process.hrtime.bigint();
  execFileSync('tar', ['-xzpf', layer, '-C', b, '--numeric-owner']);
  tar.push(Number(process.hrtime.bigint() - t0) / 1e6);
  rmSync(b, { recursive: true, force: true });
}
rmSync(work, { recursive: true, force: true });
const h = median(hoist);
const t = median(tar);
console.log(JSON.stringify({ files, bigMiB, runs, hoistMs: Math.round(h), tarMs: Math.round(t), ratio: Number((h / t).toFixed(2)), hoistPeakRssMB: Math.round(rss / 1024) }));
