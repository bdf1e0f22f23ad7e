// Push/pull benchmark: hoist vs `skopeo copy`, same image, same machine, same run.
// See README.md. Run by hand; never a test.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { constants as zc, createGzip } from 'node:zlib';
import { REGISTRY_BIN, startRegistry } from '../lib/registry.mjs';
import { makePools, parseSize, rng } from '../lib/seeded-data.mjs';
import { HOIST, requirePrerequisites } from '../lib/prerequisites.mjs';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '512M' },
    layers: { type: 'string', default: '8' },
    runs: { type: 'string', default: '3' },
    // extra sizes, one run each, to show hoist's peak RSS does not follow the image size
    'rss-sizes': { type: 'string', default: '' },
    ops: { type: 'string', default: 'push,pull' },
    target: { type: 'string', default: '0.8' },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
    // extra arguments for the hoist child, e.g. --node-args=--cpu-prof
    'node-args': { type: 'string', default: '' },
    // skip the curl "floor" rows (raw transfer, no client-side verification)
    'no-floor': { type: 'boolean', default: false },
    verbose: { type: 'boolean', short: 'v', default: false },
  },
});

const MiB = 1024 * 1024;
const TIME_BIN = '/usr/bin/time';
const TAG = 'bench';
const runs = Number(values.runs);
const nLayers = Number(values.layers);
const target = Number(values.target);
const ops = values.ops.split(',').filter(Boolean);

function log(...args) {
  process.stderr.write(`${args.join(' ')}\n`);
}

for (const bin of [REGISTRY_BIN, TIME_BIN, '/usr/bin/skopeo']) {
  if (!existsSync(bin)) throw new Error(`${bin} is missing (apt-get install docker-registry skopeo time)`);
}
requirePrerequisites('push-pull');

// ---- deterministic image ------------------------------------------------

const WORDS = (
  'const let function return import export from async await class extends new this if else for while of in ' +
  'true false null undefined value result error stream buffer layer digest config manifest index build stage ' +
  'usr lib share bin include python3 site-packages node_modules package json README LICENSE so a o h c'
).split(' ');
const POOL = 16 * MiB;

/**
 * File content: 4 KiB blocks at random offsets of two pools, ~75% random
 * bytes (incompressible: think .so files, already compressed assets), ~25%
 * text. gzip -6 leaves ~80% of the bytes, so registries move real volume
 * and gzip verification has real work.
 */
function* fileChunks(size, next, pools) {
  const CHUNK = 256 * 1024;
  for (let off = 0; off < size; off += CHUNK) {
    const n = Math.min(CHUNK, size - off);
    const buf = Buffer.allocUnsafe(n);
    for (let o = 0; o < n; o += 4096) {
      const m = Math.min(4096, n - o);
      const pool = next() % 4 === 0 ? pools.text : pools.random;
      const from = next() % (POOL - 4096);
      pool.copy(buf, o, from, from + m);
    }
    yield buf;
  }
}

function tarHeader(name, size) {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write('14000000000\0', 136); // fixed mtime: deterministic
  h.write('        ', 148);
  h.write('0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += h[i];
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

/** Counts and hashes what passes through. */
function digester() {
  const hash = createHash('sha256');
  let size = 0;
  const t = new Transform({
    transform(chunk, _enc, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  return { t, bytes: () => size, digest: () => `sha256:${hash.digest('hex')}` };
}

/**
 * One gzip tar layer of about `compressedTarget` bytes, streamed to the
 * layout's blob dir (never held in memory). Files of 16 KiB-8 MiB are
 * appended until the gzip output reaches the target.
 */
async function writeLayer(blobDir, index, compressedTarget, seed, pools) {
  const next = rng(seed);
  const tmp = join(blobDir, `.tmp-layer-${index}`);
  const comp = digester();
  const uncompressedHash = createHash('sha256');
  async function* tar() {
    const emit = (b) => {
      uncompressedHash.update(b);
      return b;
    };
    let n = 0;
    while (comp.bytes() < compressedTarget) {
      const small = next() % 3 === 0;
      const pick = small ? 16 * 1024 + (next() % (240 * 1024)) : 1 * MiB + (next() % (7 * MiB));
      // do not overshoot: ~80% of the input survives gzip, so cap at what is left
      const size = Math.max(16 * 1024, Math.min(pick, Math.round((compressedTarget - comp.bytes()) / 0.8)));
      yield emit(tarHeader(`layer${index}/dir${n % 17}/file${n}.bin`, size));
      for (const c of fileChunks(size, next, pools)) yield emit(c);
      const pad = (512 - (size % 512)) % 512;
      if (pad) yield emit(Buffer.alloc(pad));
      n++;
    }
    yield emit(Buffer.alloc(1024));
  }
  await pipeline(tar, createGzip({ level: 6, chunkSize: 64 * 1024 }), comp.t, createWriteStream(tmp));
  const digest = comp.digest();
  renameSync(tmp, join(blobDir, digest.slice(7)));
  return { digest, size: comp.bytes(), diffId: `sha256:${uncompressedHash.digest('hex')}` };
}

function putJson(blobDir, obj) {
  const buf = Buffer.from(JSON.stringify(obj));
  const digest = `sha256:${createHash('sha256').update(buf).digest('hex')}`;
  writeFileSync(join(blobDir, digest.slice(7)), buf);
  return { digest, size: buf.length };
}

const ARCH = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' }[process.arch] ?? process.arch;

async function generateLayout(dir, totalSize, layers) {
  const stamp = join(dir, '.bench-stamp');
  const want = `${totalSize}/${layers}/v2`;
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want) {
    log(`reusing layout ${dir}`);
    return JSON.parse(readFileSync(join(dir, '.bench-info.json'), 'utf8'));
  }
  rmSync(dir, { recursive: true, force: true });
  const blobDir = join(dir, 'blobs/sha256');
  mkdirSync(blobDir, { recursive: true });
  // uneven, like real images: a big base, a few mid-size layers, small app layers
  const weights = [24, 18, 15, 12, 10, 9, 7, 5].slice(0, layers);
  while (weights.length < layers) weights.push(5);
  const wsum = weights.reduce((a, b) => a + b, 0);
  const pools = makePools(rng(0x5eed), WORDS, POOL);
  const t0 = performance.now();
  // two layers at a time: zlib runs on the thread pool, so this uses both cores
  const results = new Array(layers);
  let nextIndex = 0;
  await Promise.all(
    [0, 1].map(async () => {
      while (nextIndex < layers) {
        const i = nextIndex++;
        results[i] = await writeLayer(blobDir, i, Math.round((totalSize * weights[i]) / wsum), 1000 + i, pools);
      }
    }),
  );
  const config = putJson(blobDir, {
    created: '2024-01-01T00:00:00Z',
    architecture: ARCH,
    os: 'linux',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: results.map((r) => r.diffId) },
    history: results.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: `bench layer ${i}` })),
  });
  const manifest = putJson(blobDir, {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: results.map((r) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: r.digest, size: r.size })),
  });
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': TAG } }],
    }),
  );
  const info = { manifestDigest: manifest.digest, bytes: results.reduce((a, r) => a + r.size, 0) + config.size + manifest.size, layers: results.map((r) => r.size) };
  writeFileSync(join(dir, '.bench-info.json'), JSON.stringify(info));
  writeFileSync(stamp, want);
  log(`generated ${dir}: ${layers} layers, ${(info.bytes / MiB).toFixed(1)} MiB compressed in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return info;
}

// ---- measuring ------------------------------------------------------------

const TICK = 100; // USER_HZ on Linux

/** CPU seconds a process has used (user + sys), from /proc. */
function procCpu(pid) {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICK;
  } catch {
    return 0;
  }
}

/** CPU seconds used by the whole machine (all cores, not idle/iowait). */
function machineCpu() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return (f.reduce((a, b) => a + b, 0) - f[3] - f[4]) / TICK;
}

/**
 * Run a command under /usr/bin/time: wall seconds (ours), peak RSS of the
 * child (KiB, from time), its CPU, the registry's CPU (when `regPid`) and
 * what everything else on the machine used meanwhile ("others").
 */
function measure(cmd, args, work, regPid) {
  const timeFile = join(work, `time-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const reg0 = procCpu(regPid);
  const mach0 = machineCpu();
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(TIME_BIN, ['-f', '%e %M %U %S', '-o', timeFile, cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HOIST_CACHE_DIR: '' },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const reg = procCpu(regPid) - reg0;
      const machine = machineCpu() - mach0;
      const fields = readFileSync(timeFile, 'utf8').trim().split('\n').pop().split(' ');
      rmSync(timeFile, { force: true });
      if (code !== 0) return reject(new Error(`${cmd} ${args.join(' ')} exited ${code}\n${err}${out}`));
      const user = Number(fields[2]);
      const sys = Number(fields[3]);
      resolve({ wall, rssKiB: Number(fields[1]), user, sys, reg, others: Math.max(0, machine - user - sys - reg), stdout: out.trim(), stderr: err });
    });
  });
}

const nodeArgs = values['node-args'] ? values['node-args'].split(' ').filter(Boolean) : [];

const TOOLS = {
  hoist: {
    push: (layout, host, work) => {
      const cache = mkdtempSync(join(work, 'hoist-cache-'));
      return { cmd: process.execPath, args: [...nodeArgs, HOIST, 'push', `oci-layout:${layout}:${TAG}`, `${host}/bench/hoist:1`, '--insecure-registry', host, '--cache-dir', cache], cleanup: [cache] };
    },
    pull: (host, repo, out, work) => {
      const cache = mkdtempSync(join(work, 'hoist-cache-'));
      return { cmd: process.execPath, args: [...nodeArgs, HOIST, 'pull', `${host}/${repo}:1`, `oci-layout:${out}:${TAG}`, '--insecure-registry', host, '--cache-dir', cache], cleanup: [cache] };
    },
  },
  skopeo: {
    push: (layout, host) => ({ cmd: '/usr/bin/skopeo', args: ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:${TAG}`, `docker://${host}/bench/skopeo:1`], cleanup: [] }),
    pull: (host, repo, out) => ({ cmd: '/usr/bin/skopeo', args: ['copy', '--quiet', '--src-tls-verify=false', `docker://${host}/${repo}:1`, `oci:${out}:${TAG}`], cleanup: [] }),
  },
  // The floor: the same HTTP requests made by curl, all blobs at once, no
  // client-side hashing, no fsync on pull. What the registry and the machine allow.
  floor: {
    push: (layout, host, work) => ({ cmd: '/bin/bash', args: [floorScript(work), 'push', host, 'bench/floor', layout, ...layoutBlobs(layout)], cleanup: [] }),
    pull: (host, repo, out, work, layout) => ({ cmd: '/bin/bash', args: [floorScript(work), 'pull', host, repo, out, ...layoutBlobs(layout)], cleanup: [] }),
  },
};
if (values['no-floor']) delete TOOLS.floor;

/** [manifest digest, config digest, ...layer digests] of the layout's TAG. */
function layoutBlobs(layout) {
  const m = layoutManifestDigest(layout);
  const manifest = JSON.parse(readFileSync(join(layout, 'blobs/sha256', m.slice(7)), 'utf8'));
  return [m, manifest.config.digest, ...manifest.layers.map((l) => l.digest)];
}

const FLOOR_SH = `#!/bin/bash
# floor.sh push|pull HOST REPO DIR MANIFEST_DIGEST BLOB_DIGEST...
set -euo pipefail
op=$1 H=$2 R=$3 D=$4 M=$5; shift 5
up() {
  local d=$1 f="$D/blobs/sha256/\${1#sha256:}" loc sep
  loc=$(curl -sSf -D - -o /dev/null -X POST "http://$H/v2/$R/blobs/uploads/" | tr -d '\r' | awk 'tolower($1)=="location:"{print $2}')
  case $loc in http*) ;; *) loc="http://$H$loc";; esac
  case $loc in *\?*) sep='&';; *) sep='?';; esac
  curl -sSf -o /dev/null -T "$f" -H 'Content-Type: application/octet-stream' "$loc\${sep}digest=$d"
}
down() { curl -sSf -o "$D/\${1#sha256:}" "http://$H/v2/$R/blobs/$1"; }
pids=()
if [ "$op" = push ]; then
  for d in "$@"; do up "$d" & pids+=($!); done
  for p in "\${pids[@]}"; do wait "$p"; done
  curl -sSf -o /dev/null -X PUT -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' --data-binary "@$D/blobs/sha256/\${M#sha256:}" "http://$H/v2/$R/manifests/1"
else
  mkdir -p "$D"
  curl -sSf -o "$D/manifest.json" -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$H/v2/$R/manifests/1"
  for d in "$@"; do down "$d" & pids+=($!); done
  for p in "\${pids[@]}"; do wait "$p"; done
fi
`;

function floorScript(work) {
  const file = join(work, 'floor.sh');
  if (!existsSync(file)) writeFileSync(file, FLOOR_SH, { mode: 0o755 });
  return file;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The manifest digest an OCI layout's index.json names for TAG. */
function layoutManifestDigest(dir) {
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
  const m = index.manifests.find((d) => d.annotations?.['org.opencontainers.image.ref.name']?.endsWith(TAG)) ?? index.manifests[0];
  return m?.digest;
}

async function checkPushed(host, repo, expect) {
  const res = await fetch(`http://${host}/v2/${repo}/manifests/1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  const digest = `sha256:${createHash('sha256').update(Buffer.from(await res.arrayBuffer())).digest('hex')}`;
  if (digest !== expect) log(`WARNING: ${host}/${repo}:1 is ${digest}, source is ${expect}`);
}

/**
 * One size: `runs` rounds, each round every tool once per op (alternating
 * which goes first), fresh registry for every push, fresh output dir and
 * empty hoist cache for every pull.
 */
async function benchSize(size, nRuns, work, layoutDir) {
  const info = await generateLayout(layoutDir, size, nLayers);
  const samples = Object.fromEntries(Object.keys(TOOLS).map((t) => [t, { push: [], pull: [] }]));
  const tools = Object.keys(TOOLS);
  // one registry holding the image for pulls (seeded by skopeo, untimed); pulls share it
  let pullReg;
  if (ops.includes('pull')) {
    pullReg = await startRegistry(work);
    const seed = await measure('/usr/bin/skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layoutDir}:${TAG}`, `docker://${pullReg.host}/bench/src:1`], work, pullReg.pid);
    log(`seeded ${pullReg.host}/bench/src:1 in ${seed.wall.toFixed(1)} s`);
    await checkPushed(pullReg.host, 'bench/src', info.manifestDigest);
  }
  try {
    for (let r = 0; r < nRuns; r++) {
      const order = r % 2 ? [...tools].reverse() : tools;
      for (const op of ops) {
        for (const tool of order) {
          if (op === 'push') {
            const reg = await startRegistry(work);
            const { cmd, args, cleanup } = TOOLS[tool].push(layoutDir, reg.host, work);
            try {
              const m = await measure(cmd, args, work, reg.pid);
              samples[tool].push.push(m);
              await checkPushed(reg.host, `bench/${tool}`, info.manifestDigest);
              if (values.verbose) log(`  ${tool} push #${r + 1}: ${m.wall.toFixed(2)} s, ${(m.rssKiB / 1024).toFixed(0)} MB, user ${m.user}s sys ${m.sys}s, registry ${m.reg.toFixed(2)}s, others ${m.others.toFixed(2)}s`);
            } finally {
              await reg.stop();
              for (const c of cleanup) rmSync(c, { recursive: true, force: true });
            }
          } else {
            const out = join(work, `pull-${tool}-${r}`);
            rmSync(out, { recursive: true, force: true });
            const { cmd, args, cleanup } = TOOLS[tool].pull(pullReg.host, 'bench/src', out, work, layoutDir);
            try {
              const m = await measure(cmd, args, work, pullReg.pid);
              samples[tool].pull.push(m);
              const got = tool === 'floor' ? info.manifestDigest : layoutManifestDigest(out);
              if (got !== info.manifestDigest) log(`WARNING: ${tool} pull wrote ${got}, expected ${info.manifestDigest}`);
              if (values.verbose) log(`  ${tool} pull #${r + 1}: ${m.wall.toFixed(2)} s, ${(m.rssKiB / 1024).toFixed(0)} MB, user ${m.user}s sys ${m.sys}s, registry ${m.reg.toFixed(2)}s, others ${m.others.toFixed(2)}s`);
            } finally {
              rmSync(out, { recursive: true, force: true });
              for (const c of cleanup) rmSync(c, { recursive: true, force: true });
            }
          }
        }
      }
    }
  } finally {
    await pullReg?.stop();
  }
  return { info, samples };
}

function row(cols, widths) {
  return cols.map((c, i) => (i === 0 || i === 1 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
}

function report(size, { info, samples }, nRuns) {
  const widths = [7, 5, 9, 7, 7, 7, 7, 7, 8, 7];
  const lines = [];
  lines.push(`image: ${nLayers} layers, ${(info.bytes / MiB).toFixed(1)} MiB of blobs (--size ${(size / MiB).toFixed(0)}M), ${nRuns} run(s), median`);
  lines.push(row(['tool', 'op', 'median s', 'MB/s', 'min s', 'max s', 'RSS MB', 'cpu s', 'reg cpu', 'others'], widths));
  for (const op of ops) {
    for (const tool of Object.keys(samples)) {
      const s = samples[tool][op];
      if (!s.length) continue;
      const walls = s.map((m) => m.wall);
      const med = median(walls);
      const rss = Math.max(...s.map((m) => m.rssKiB)) / 1024;
      const cpu = median(s.map((m) => m.user + m.sys));
      const reg = median(s.map((m) => m.reg));
      const others = median(s.map((m) => m.others));
      lines.push(
        row(
          [tool, op, med.toFixed(2), (info.bytes / MiB / med).toFixed(1), Math.min(...walls).toFixed(2), Math.max(...walls).toFixed(2), rss.toFixed(0), cpu.toFixed(2), reg.toFixed(2), others.toFixed(2)],
          widths,
        ),
      );
    }
  }
  const ratios = {};
  for (const op of ops) {
    const h = samples.hoist[op];
    const k = samples.skopeo[op];
    if (!h.length || !k.length) continue;
    const ratio = median(h.map((m) => m.wall)) / median(k.map((m) => m.wall));
    ratios[op] = ratio;
    lines.push(`ratio hoist/skopeo ${op}: ${ratio.toFixed(2)}  ${ratio <= target ? 'PASS' : 'FAIL'} (target <= ${target})`);
  }
  console.log(lines.join('\n'));
  console.log('');
  return ratios;
}

// ---- main ------------------------------------------------------------------

const work = values.dir ?? mkdtempSync(join(tmpdir(), 'hoist-bench-pp-'));
mkdirSync(work, { recursive: true });
log(`work dir ${work}; hoist ${HOIST}; ${(await measure('/usr/bin/skopeo', ['--version'], work)).stdout}; node ${process.version}`);

// The machine: how busy it is before we start (other processes compete with both tools alike).
{
  const m0 = machineCpu();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, 2000));
  const busy = (machineCpu() - m0) / ((performance.now() - t0) / 1000);
  const starts = [];
  for (let i = 0; i < 3; i++) starts.push((await measure(process.execPath, [HOIST, '--version'], work)).wall);
  console.log(
    `machine: ${availableParallelism()} CPUs, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}; ` +
      `${busy.toFixed(2)} CPUs busy before start. hoist CLI start-up (--version): ${median(starts).toFixed(2)} s`,
  );
  console.log("cpu s = the tool's user+sys; reg cpu = the registry's; others = everything else on the machine meanwhile (CPU seconds)");
  console.log('');
}

try {
  const main = parseSize(values.size);
  const mainResult = await benchSize(main, runs, work, join(work, `layout-${values.size}`));
  report(main, mainResult, runs);
  const rssRows = [[values.size, mainResult]];
  if (!values.keep && !values.dir) rmSync(join(work, `layout-${values.size}`), { recursive: true, force: true });
  for (const s of values['rss-sizes'].split(',').filter(Boolean)) {
    const size = parseSize(s);
    const res = await benchSize(size, 1, work, join(work, `layout-${s}`));
    report(size, res, 1);
    rssRows.push([s, res]);
    if (!values.keep && !values.dir) rmSync(join(work, `layout-${s}`), { recursive: true, force: true });
  }
  rssRows.sort((a, b) => parseSize(a[0]) - parseSize(b[0]));
  if (rssRows.length > 1) {
    console.log('peak RSS (MB) by image size');
    console.log(row(['size', 'op', 'hoist', 'skopeo'], [7, 5, 8, 8]));
    for (const op of ops) {
      for (const [s, res] of rssRows) {
        const peak = (tool) => (Math.max(...res.samples[tool][op].map((m) => m.rssKiB)) / 1024).toFixed(0);
        console.log(row([s, op, peak('hoist'), peak('skopeo')], [7, 5, 8, 8]));
      }
    }
  }
} finally {
  if (!values.keep && !values.dir) rmSync(work, { recursive: true, force: true });
}
