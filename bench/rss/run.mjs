// Peak RSS of hoist on a large image: a base with one large layer (COPY of
// --size bytes, default 1 GiB), pushed to a local registry; then a build
// FROM that base whose RUN writes --run-size bytes (default 320 MiB).
// Reports each build's peak RSS (/usr/bin/time %M). See README.md.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { makePools, parseSize, rng } from '../lib/seeded-data.mjs';
import { startRegistry, timed } from '../lib/registry.mjs';
import { HOIST, requirePrerequisites } from '../lib/prerequisites.mjs';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '1G' },
    'run-size': { type: 'string', default: '320M' },
    target: { type: 'string', default: '250' },
    isolation: { type: 'string', default: 'chroot' },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
    verbose: { type: 'boolean', short: 'v', default: false },
  },
});

const MiB = 1024 * 1024;
const PART = 64 * MiB;
const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
requirePrerequisites('rss');
if (BUSYBOX === undefined) throw new Error('bench/rss needs a static busybox (apt-get install busybox-static)');
const size = parseSize(values.size, '512M, 1G, 2G');
const runParts = Math.max(1, Math.round(parseSize(values['run-size'], '320M') / PART));
const parts = Math.ceil(size / PART);
if (runParts > parts) throw new Error(`--run-size must not exceed --size (the RUN concatenates files of the base)`);
const work = values.dir ?? mkdtempSync(join(tmpdir(), 'hoist-bench-rss-'));
mkdirSync(work, { recursive: true });

/** The base's context: busybox as /bin/sh and `parts` files of 64 MiB, half random, half text (seeded). */
function makeBaseContext(ctx) {
  const done = join(ctx, `.complete-${parts}`);
  if (existsSync(done)) return;
  rmSync(ctx, { recursive: true, force: true });
  mkdirSync(join(ctx, 'bin'), { recursive: true });
  mkdirSync(join(ctx, 'data'), { recursive: true });
  copyFileSync(BUSYBOX, join(ctx, 'bin/busybox'));
  symlinkSync('busybox', join(ctx, 'bin/sh'));
  const next = rng(0x7355);
  const pools = makePools(next, 'layer digest manifest config index blob stream value'.split(' '), 8 * MiB);
  const buf = Buffer.allocUnsafe(PART);
  for (let p = 0; p < parts; p++) {
    for (let off = 0; off < PART; off += 4096) {
      const pool = next() % 2 === 0 ? pools.random : pools.text;
      const from = next() % (8 * MiB - 4096);
      pool.copy(buf, off, from, from + 4096);
    }
    writeFileSync(join(ctx, 'data', `part${String(p).padStart(3, '0')}`), buf);
  }
  writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY bin/ /bin/\nCOPY data/ /data/\n');
  writeFileSync(join(ctx, '.dockerignore'), '.complete-*\n');
  writeFileSync(done, '');
}

function runContext(ctx, base) {
  mkdirSync(ctx, { recursive: true });
  const inputs = Array.from({ length: runParts }, (_, p) => `/data/part${String(p).padStart(3, '0')}`).join(' ');
  writeFileSync(join(ctx, 'Dockerfile'), `FROM ${base}\nRUN /bin/busybox cat ${inputs} > /written.bin && /bin/busybox ls -l /written.bin\n`);
}

async function hoistBuild(ctx, ref, host, extra = []) {
  const cache = mkdtempSync(join(work, 'cache-'));
  try {
    const args = [HOIST, 'build', ctx, '-t', ref, '--push', '--insecure-registry', host, '--isolation', values.isolation, '--cache-dir', cache, '--progress', 'plain', ...extra];
    return await timed(process.execPath, args, { work, env: { ...process.env, HOIST_CACHE_DIR: '' } });
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}

const target = Number(values.target);
console.log(`bench/rss: base layer ${(parts * PART / MiB).toFixed(0)} MiB, RUN writes ${(runParts * PART / MiB).toFixed(0)} MiB; node ${process.version}, ${availableParallelism()} CPUs; work dir ${work}`);
const baseCtx = join(work, 'base');
makeBaseContext(baseCtx);
const registry = await startRegistry(work);
const rows = [];
try {
  const load0 = loadavg()[0];
  const base = `${registry.host}/bench/rss-base:1`;
  const b = await hoistBuild(baseCtx, base, registry.host);
  rows.push(['COPY of the base (one layer)', b, load0]);
  const runCtx = join(work, 'run');
  runContext(runCtx, base);
  const load1 = loadavg()[0];
  const r = await hoistBuild(runCtx, `${registry.host}/bench/rss-run:1`, registry.host);
  rows.push(['FROM the base + RUN', r, load1]);
  if (values.verbose) console.log(r.output);
} finally {
  await registry.stop();
  if (values.dir === undefined && !values.keep) rmSync(work, { recursive: true, force: true });
}
let worst = 0;
for (const [what, m, load] of rows) {
  const mb = m.rssKiB / 1024;
  worst = Math.max(worst, mb);
  console.log(`  ${what.padEnd(30)} peak RSS ${mb.toFixed(0).padStart(4)} MB, ${m.wall.toFixed(1)} s wall, cpu ${(m.user + m.sys).toFixed(1)} s (load ${load.toFixed(2)})`);
}
console.log(`hoist peak RSS ${worst.toFixed(0)} MB (target <= ${target} MB): ${worst <= target ? 'ok' : 'OVER'}`);
