// Cold build + push: hoist against buildah (chroot isolation, overlay
// storage), same context, same registry, alternating. See README.md.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { makePools, rng } from '../lib/seeded-data.mjs';
import { startRegistry, timed } from '../lib/registry.mjs';
import { HOIST, requirePrerequisites } from '../lib/prerequisites.mjs';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    // issue 10's target for a cold build plus push (the RUN issue's was 0.7)
    target: { type: 'string', default: '0.5' },
    // buildah bud commits the whole Dockerfile as one layer unless --layers is given; hoist writes one per step
    'buildah-layers': { type: 'boolean', default: false },
    isolation: { type: 'string', default: 'chroot' },
    only: { type: 'string', default: 'hoist,buildah' },
    'node-args': { type: 'string', default: '' },
    dir: { type: 'string' },
    // Run everything (context, both tools' storage and temp files, the registry) on a fresh journaled ext4 of this size, loop-mounted
    'loop-ext4': { type: 'string' },
    keep: { type: 'boolean', default: false },
    verbose: { type: 'boolean', short: 'v', default: false },
  },
});

const MiB = 1024 * 1024;
const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
requirePrerequisites('build-vs-buildah', [
  ['/usr/bin/buildah', existsSync('/usr/bin/buildah')],
  ['a static busybox (apt-get install busybox-static)', BUSYBOX !== undefined],
  ['/usr/bin/time', existsSync('/usr/bin/time')],
]);
const runs = Number(values.runs);
const tools = values.only.split(',');
if (values['loop-ext4'] !== undefined && values.dir !== undefined) throw new Error('bench/build-vs-buildah: give --dir or --loop-ext4, not both');
const loop = values['loop-ext4'] === undefined ? undefined : mountLoopExt4(values['loop-ext4']);
const work = loop?.work ?? values.dir ?? mkdtempSync(join(tmpdir(), 'hoist-bench-build-'));
mkdirSync(work, { recursive: true });

/**
 * A default (journaled) ext4 in a file, loop-mounted, with TMPDIR on it for both tools: this VM's root
 * filesystem is ext4 without a journal, where file creation after many deletions costs 10-20x more
 * (README.md), which is not what most CI machines have.
 */
function mountLoopExt4(size) {
  const image = join('/var/tmp', `hoist-bench-ext4-${process.pid}.img`);
  const mnt = mkdtempSync(join(tmpdir(), 'hoist-bench-mnt-'));
  execFileSync('truncate', ['-s', size, image]);
  execFileSync('mkfs.ext4', ['-q', '-F', image]);
  execFileSync('mount', ['-o', 'loop', image, mnt]);
  mkdirSync(join(mnt, 'tmp'));
  process.env.TMPDIR = join(mnt, 'tmp');
  return {
    work: join(mnt, 'work'),
    remove() {
      execFileSync('umount', [mnt]);
      rmSync(mnt, { recursive: true, force: true });
      rmSync(image, { force: true });
    },
  };
}

// ---- the context ----------------------------------------------------------

const WORDS = 'const let function return import export from async await class new this if else for while of in value result stream layer'.split(' ');

/** 3,000 small files in 30 directories, a 64 MiB file, busybox as /bin/sh; seeded, the same bytes every time. */
function makeContext(ctx) {
  if (existsSync(join(ctx, '.complete'))) return;
  rmSync(ctx, { recursive: true, force: true });
  const next = rng(0xb11d);
  const pools = makePools(next, WORDS, 8 * MiB);
  mkdirSync(join(ctx, 'bin'), { recursive: true });
  copyFileSync(BUSYBOX, join(ctx, 'bin/busybox'));
  symlinkSync('busybox', join(ctx, 'bin/sh'));
  for (let d = 0; d < 30; d++) {
    const dir = join(ctx, 'app', `d${String(d).padStart(2, '0')}`);
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 100; f++) {
      const size = 100 + (next() % 8000);
      const from = next() % (8 * MiB - size);
      writeFileSync(join(dir, `f${f}.txt`), pools.text.subarray(from, from + size));
    }
  }
  const big = Buffer.allocUnsafe(64 * MiB);
  for (let off = 0; off < big.length; off += 4096) {
    const pool = next() % 2 === 0 ? pools.random : pools.text;
    const from = next() % (8 * MiB - 4096);
    pool.copy(big, off, from, from + 4096);
  }
  writeFileSync(join(ctx, 'big.bin'), big);
  // 2,000 files, then seq's 1..2885000 (about 20 MiB of text); then a directory of the COPY deleted.
  writeFileSync(
    join(ctx, 'Dockerfile'),
    [
      'FROM scratch',
      'COPY bin/ /bin/',
      'COPY app/ /app/',
      'COPY big.bin /data/big.bin',
      'RUN /bin/busybox mkdir -p /gen && i=0; while [ $i -lt 2000 ]; do echo "file $i" > /gen/f$i; i=$((i+1)); done; /bin/busybox seq 1 2885000 > /gen/numbers',
      'RUN /bin/busybox rm -rf /app/d07',
      '',
    ].join('\n'),
  );
  writeFileSync(join(ctx, '.dockerignore'), '.complete\n');
  writeFileSync(join(ctx, '.complete'), '');
}

// ---- one cold build + push each ----------------------------------------------

/**
 * A repository of its own for each run: a push finds none of its blobs
 * there and uploads them all. (Runs pushed to one repository once: from the
 * second run on, hoist's COPY layers, the same bytes each time, were found
 * there and not sent again, while buildah's single layer changes each run.)
 */
function repository(tool, n) {
  return `bench/${tool}-${n}`;
}

const nodeArgs = values['node-args'].split(' ').filter(Boolean);

async function runHoist(ctx, host, n) {
  const cache = mkdtempSync(join(work, 'hoist-cache-'));
  try {
    const ref = `${host}/${repository('hoist', n)}:latest`;
    const args = [...nodeArgs, HOIST, 'build', ctx, '-t', ref, '--push', '--insecure-registry', host, '--isolation', values.isolation, '--cache-dir', cache, '--progress', 'plain'];
    const m = await timed(process.execPath, args, { work, env: { ...process.env, HOIST_CACHE_DIR: '' } });
    return { wall: m.wall, rssKiB: m.rssKiB, cpu: m.user + m.sys, output: m.output };
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
}

async function runBuildah(ctx, host, n) {
  const root = mkdtempSync(join(work, 'buildah-root-'));
  const store = ['--root', join(root, 'storage'), '--runroot', join(root, 'run'), '--storage-driver', 'overlay'];
  const ref = `${host}/${repository('buildah', n)}:latest`;
  try {
    const bud = ['bud', '--isolation', 'chroot', ...(values['buildah-layers'] ? ['--layers'] : []), '-t', ref, ctx];
    const b = await timed('/usr/bin/buildah', [...store, ...bud], { work });
    const p = await timed('/usr/bin/buildah', [...store, 'push', '--tls-verify=false', ref], { work });
    return { wall: b.wall + p.wall, build: b.wall, push: p.wall, rssKiB: Math.max(b.rssKiB, p.rssKiB), cpu: b.user + b.sys + p.user + p.sys, output: b.output + p.output };
  } finally {
    await timed('/usr/bin/buildah', [...store, 'rmi', '--all', '--force'], { work }).catch(() => undefined);
    await timed('/usr/bin/umount', ['-R', join(root, 'storage', 'overlay')], { work }).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  }
}

async function layersOf(host, tool, n) {
  const res = await fetch(`http://${host}/v2/${repository(tool, n)}/manifests/latest`, {
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
  });
  const m = await res.json();
  return m.layers.map((l) => l.size);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const ctx = join(work, 'context');
console.log(`bench/build-vs-buildah: ${runs} runs each, alternating; node ${process.version}, ${availableParallelism()} CPUs; work dir ${work}${loop ? ' (a loop-mounted ext4)' : ''}`);
makeContext(ctx);
const registry = await startRegistry(work);
const samples = { hoist: [], buildah: [] };
const loads = [];
try {
  for (let r = 0; r < runs; r++) {
    const order = r % 2 === 0 ? tools : [...tools].reverse();
    for (const tool of order) {
      const load = loadavg()[0];
      const m = tool === 'hoist' ? await runHoist(ctx, registry.host, r) : await runBuildah(ctx, registry.host, r);
      loads.push(load, loadavg()[0]);
      samples[tool].push(m);
      const layers = await layersOf(registry.host, tool, r);
      console.log(
        `  run ${r + 1} ${tool.padEnd(7)} ${m.wall.toFixed(2)} s${m.build !== undefined ? ` (bud ${m.build.toFixed(2)} + push ${m.push.toFixed(2)})` : ''},` +
          ` cpu ${m.cpu.toFixed(2)} s, peak RSS ${(m.rssKiB / 1024).toFixed(0)} MB, ${layers.length} layers ${(layers.reduce((a, b) => a + b, 0) / MiB).toFixed(1)} MiB; load ${load.toFixed(2)} -> ${loadavg()[0].toFixed(2)}`,
      );
      if (values.verbose) console.log(m.output.split('\n').map((l) => `    ${l}`).join('\n'));
    }
  }
} finally {
  await registry.stop();
  if (values.dir === undefined && !values.keep) rmSync(work, { recursive: true, force: true });
  if (loop !== undefined && !values.keep) loop.remove();
}
const h = samples.hoist.length ? median(samples.hoist.map((m) => m.wall)) : NaN;
const b = samples.buildah.length ? median(samples.buildah.map((m) => m.wall)) : NaN;
if (Number.isNaN(h) || Number.isNaN(b)) console.log(`\nmedian: ${Number.isNaN(h) ? `buildah ${b.toFixed(2)}` : `hoist ${h.toFixed(2)}`} s (one tool only: no ratio)`);
else console.log(`\nmedian: hoist ${h.toFixed(2)} s, buildah ${b.toFixed(2)} s; hoist/buildah ${(h / b).toFixed(2)} (target <= ${values.target}): ${h / b <= Number(values.target) ? 'ok' : 'MISSED'}`);
console.log(`load average (1 min) during the runs: ${Math.min(...loads).toFixed(2)} .. ${Math.max(...loads).toFixed(2)} on ${availableParallelism()} CPUs${Math.max(...loads) > 1 ? ': noisy, re-measure on a quiet machine' : ''}`);
