// proot against chroot on the seed example's RUN (`apt-get update && apt-get
// install -y git` FROM a Debian minbase): whole `hoist build` wall time,
// alternating, median of --runs each. See README.md.
import { execFileSync, spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { availableParallelism, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    base: { type: 'string' },
  },
});
const runs = Number(values.runs);
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(REPO, 'dist/bin/hoist.cjs');
const EXAMPLE = join(REPO, 'testdata/examples/git');
const KINDS = ['chroot', 'proot'];

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** A fresh docker-registry (plain HTTP) on a free loopback port, storage under `work`. */
async function startRegistry(work) {
  const dir = mkdtempSync(join(work, 'registry-'));
  const host = `127.0.0.1:${await freePort()}`;
  const config = join(dir, 'config.yml');
  writeFileSync(config, `version: 0.1\nlog: {level: warn, accesslog: {disabled: true}}\nstorage: {filesystem: {rootdirectory: ${join(dir, 'storage')}}}\nhttp: {addr: "${host}"}\n`);
  const log = createWriteStream(join(dir, 'registry.log'));
  const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  let exited = null;
  child.on('exit', (code) => (exited = code ?? -1));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited !== null) throw new Error(`docker-registry exited (${exited}); see ${dir}/registry.log`);
    const ok = await fetch(`http://${host}/v2/`).then((r) => r.status === 200, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`docker-registry not ready on ${host}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { host, stop: () => exited === null && child.kill('SIGTERM') };
}

/** One cold build (fresh blob cache) with `isolation`; seconds of wall time. */
function build(isolation, base, work, n) {
  const out = mkdtempSync(join(work, `${isolation}-${n}-`));
  const started = process.hrtime.bigint();
  try {
    execFileSync(
      process.execPath,
      [CLI, 'build', EXAMPLE, '--build-arg', `BASE=${base}`, '--isolation', isolation, '--output', `type=oci-layout,dest=${join(out, 'layout')}`,
        '--cache-dir', join(out, 'cache'), '--progress', 'quiet'],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    return Number(process.hrtime.bigint() - started) / 1e9;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

console.log(
  `machine: ${availableParallelism()} CPUs, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}; ` +
    `node ${process.version}; proot ${execFileSync('proot', ['--version'], { encoding: 'utf8' }).match(/\d+\.\d+\.\d+/)?.[0] ?? '?'}`,
);
const work = mkdtempSync(join(tmpdir(), 'hoist-bench-run-apt-'));
let registry;
try {
  let base = values.base;
  if (base === undefined) {
    const t = Date.now();
    const image = JSON.parse(execFileSync(join(REPO, 'node_modules/.bin/vite-node'), [join(REPO, 'bench/run-apt/make-base.ts')], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }));
    console.log(`base: debootstrap --variant=minbase ${image.suite} from ${image.mirror} (${image.buildMs > 0 ? `made in ${(image.buildMs / 1000).toFixed(1)} s` : 'cached'}, ${((Date.now() - t) / 1000).toFixed(1)} s in all)`);
    registry = await startRegistry(work);
    base = `${registry.host}/debian:${image.suite}`;
    execFileSync('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', image.ociRef, `docker://${base}`], { stdio: 'inherit' });
  }
  console.log(`RUN apt-get update && apt-get install -y git, FROM ${base}: cold hoist build (pull, RUN, snapshot, layer), ${runs} runs each, alternating\n`);
  const times = { chroot: [], proot: [] };
  for (let i = 0; i < runs; i++) {
    for (const kind of KINDS) {
      const s = build(kind, base, work, i);
      times[kind].push(s);
      console.log(`  run ${i + 1} ${kind.padEnd(6)} ${s.toFixed(1)} s   (load ${loadavg()[0].toFixed(2)})`);
    }
  }
  const c = median(times.chroot);
  const p = median(times.proot);
  console.log(`\nmedian: chroot ${c.toFixed(1)} s, proot ${p.toFixed(1)} s; proot/chroot = ${(p / c).toFixed(2)}`);
} finally {
  registry?.stop();
  rmSync(work, { recursive: true, force: true });
}
