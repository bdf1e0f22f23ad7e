// The registry cache on a second machine: machine A builds bench/noop-rebuild's
// 20-step Dockerfile cold with --cache-repo REG/bench/cache and pushes it;
// machine B (a fresh --cache-dir) builds the same with the same --cache-repo
// and pushes to another repository of the registry (in A's repository the
// layers would be there already, and a push would neither mount nor upload
// them). Every request goes through a counting proxy in
// front of the registry. See README.md.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startCountingProxy, traffic } from '../lib/counting-proxy.mjs';
import { startRegistry, timed } from '../lib/registry.mjs';
import { BUSYBOX, KEYED_STEPS, makeTwentyStepContext } from '../lib/twenty-steps.mjs';
import { HOIST, requirePrerequisites } from '../lib/prerequisites.mjs';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    isolation: { type: 'string', default: 'chroot' },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
    verbose: { type: 'boolean', short: 'v', default: false },
  },
});

requirePrerequisites('cache-registry', [
  ['a static busybox (apt-get install busybox-static)', BUSYBOX !== undefined],
  ['/usr/bin/time', existsSync('/usr/bin/time')],
]);
const runs = Number(values.runs);
const work = values.dir ?? mkdtempSync(join(tmpdir(), 'hoist-bench-regcache-'));
mkdirSync(work, { recursive: true });
const ctx = join(work, 'context');

/** One machine: its own cache dir, a push to `host`/bench/`repo`:1, the registry cache in `host`/bench/cache. */
async function machine(name, host, repo) {
  const cacheDir = join(work, `cache-${name}`);
  const metadata = join(work, `metadata-${name}.json`);
  rmSync(cacheDir, { recursive: true, force: true });
  rmSync(metadata, { force: true });
  const ref = `${host}/bench/${repo}:1`;
  const args = [HOIST, 'build', ctx, '-t', ref, '--push', '--insecure-registry', host, '--cache-repo', `${host}/bench/cache`, '--isolation', values.isolation, '--cache-dir', cacheDir, '--progress', 'plain', '--metadata-file', metadata];
  const m = await timed(process.execPath, args, { work, env: { ...process.env, HOIST_CACHE_DIR: '' } });
  rmSync(cacheDir, { recursive: true, force: true });
  const meta = JSON.parse(readFileSync(metadata, 'utf8'));
  const keyed = meta.steps.filter((s) => /^(COPY|ADD|RUN|WORKDIR)\b/.test(s.instruction));
  return { ...m, digest: meta.digest, layers: meta.layers, cached: keyed.filter((s) => s.cached === true).length, warnings: m.output.split('\n').filter((l) => /warning/i.test(l)) };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const kB = (n) => `${(n / 1024).toFixed(1)} KiB`;

console.log(`bench/cache-registry: ${runs} runs of machine A (cold, --cache-repo, push) then machine B (fresh cache dir, same --cache-repo, push to another repository), a fresh registry each run; node ${process.version}, ${availableParallelism()} CPUs; work dir ${work}`);
makeTwentyStepContext(ctx);
const samples = { a: [], b: [], aCpu: [], bCpu: [], bDown: [], bUp: [], bBlobDown: [] };
const loads = [];
let wrong = 0;
try {
  for (let r = 0; r < runs; r++) {
    const registry = await startRegistry(work);
    const proxy = await startCountingProxy(registry.host);
    try {
      const load = loadavg()[0];
      const a = await machine('a', proxy.host, 'app-a');
      const ta = traffic(proxy.take());
      const b = await machine('b', proxy.host, 'app-b');
      const tb = traffic(proxy.take());
      loads.push(load, loadavg()[0]);
      samples.a.push(a.wall);
      samples.b.push(b.wall);
      samples.aCpu.push(a.user + a.sys);
      samples.bCpu.push(b.user + b.sys);
      samples.bDown.push(tb.downloaded);
      samples.bUp.push(tb.uploaded);
      samples.bBlobDown.push(tb.blobBytesDownloaded);
      const layerBytes = b.layers.reduce((n, l) => n + l.size, 0);
      const appMounts = tb.mounts.filter((q) => q.url.startsWith('/v2/bench/app-b/'));
      const appUploads = tb.uploads.filter((q) => q.url.startsWith('/v2/bench/app-b/'));
      const cacheUploads = tb.uploads.filter((q) => q.url.startsWith('/v2/bench/cache/'));
      console.log(`  run ${r + 1} A (cold): ${a.wall.toFixed(2)} s, cpu ${(a.user + a.sys).toFixed(2)} s, ${a.cached}/${KEYED_STEPS} keyed steps cached; ${ta.requests} requests, up ${kB(ta.uploaded)}, down ${kB(ta.downloaded)}; ${ta.mounts.length} mounts`);
      console.log(
        `  run ${r + 1} B (fresh cache dir): ${b.wall.toFixed(2)} s, cpu ${(b.user + b.sys).toFixed(2)} s (${(b.wall / a.wall).toFixed(2)} of A), ${b.cached}/${KEYED_STEPS} keyed steps cached; ${tb.requests} requests, down ${kB(tb.downloaded)} (blobs ${tb.blobGets}, ${kB(tb.blobBytesDownloaded)}), up ${kB(tb.uploaded)}`,
      );
      console.log(
        `        B's push: ${appMounts.length} of ${b.layers.length} layers (${kB(layerBytes)}) mounted from bench/cache; blobs uploaded to bench/app-b: ${appUploads.length} (${kB(appUploads.reduce((n, q) => n + q.up, 0))}: the config), to bench/cache: ${cacheUploads.length}; same image as A: ${b.digest === a.digest ? 'yes' : 'no'}; load ${load.toFixed(2)} -> ${loadavg()[0].toFixed(2)}`,
      );
      if (b.cached !== KEYED_STEPS || appMounts.length !== b.layers.length || appUploads.length > 1 || tb.blobGets > 0 || b.warnings.length > 0) {
        wrong++;
        console.log(`    UNEXPECTED: B should hit every keyed step, download no blob, mount every layer and upload only the config${b.warnings.length ? `; warnings: ${b.warnings.join(' | ')}` : ''}`);
      }
      if (values.verbose) console.log(b.output.split('\n').map((l) => `    ${l}`).join('\n'));
    } finally {
      await proxy.stop();
      await registry.stop();
    }
  }
} finally {
  if (values.dir === undefined && !values.keep) rmSync(work, { recursive: true, force: true });
}
const a = median(samples.a);
const b = median(samples.b);
const [aCpu, bCpu] = [median(samples.aCpu), median(samples.bCpu)];
console.log(`\nmedian A (cold build, cache upload, push) ${a.toFixed(2)} s; B (fresh cache dir, registry cache) ${b.toFixed(2)} s: ${(b / a).toFixed(2)} of A (CPU ${aCpu.toFixed(2)} s and ${bCpu.toFixed(2)} s: ${(bCpu / aCpu).toFixed(2)})`);
console.log(`median bytes B moved: down ${kB(median(samples.bDown))} (blobs ${kB(median(samples.bBlobDown))}), up ${kB(median(samples.bUp))}`);
console.log(wrong === 0 ? 'B hit every step, downloaded no blob, and its push mounted every layer (only the config was uploaded)' : `${wrong} run(s) did not hit, mount or upload as expected`);
console.log(`load average (1 min) during the runs: ${Math.min(...loads).toFixed(2)} .. ${Math.max(...loads).toFixed(2)} on ${availableParallelism()} CPUs${Math.max(...loads) > availableParallelism() ? ': figures and ratios are under load, re-measure on a quiet machine' : ''}`);
if (wrong > 0) process.exitCode = 1;
