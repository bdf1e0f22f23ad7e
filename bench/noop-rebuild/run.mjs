// No-op rebuild of a 20-step Dockerfile (RUN and COPY steps): hoist's build
// cache against `buildah bud --layers`, same context, alternating. See README.md.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BUSYBOX, makeTwentyStepContext as makeContext } from '../lib/twenty-steps.mjs';
import { timed } from '../lib/registry.mjs';
import { HOIST, requirePrerequisites } from '../lib/prerequisites.mjs';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    'target-seconds': { type: 'string', default: '0.3' },
    'target-ratio': { type: 'string', default: '0.5' },
    isolation: { type: 'string', default: 'chroot' },
    only: { type: 'string', default: 'hoist,buildah' },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
    verbose: { type: 'boolean', short: 'v', default: false },
  },
});

const tools = values.only.split(',');
requirePrerequisites('noop-rebuild', [
  ['/usr/bin/buildah', !tools.includes('buildah') || existsSync('/usr/bin/buildah')],
  ['a static busybox (apt-get install busybox-static)', BUSYBOX !== undefined],
  ['/usr/bin/time', existsSync('/usr/bin/time')],
]);
const runs = Number(values.runs);
const work = values.dir ?? mkdtempSync(join(tmpdir(), 'hoist-bench-noop-'));
mkdirSync(work, { recursive: true });

const ctx = join(work, 'context');
const hoistCache = join(work, 'hoist-cache');
const hoistOut = join(work, 'hoist-layout');
const buildahRoot = join(work, 'buildah-root');
const buildahStore = ['--root', join(buildahRoot, 'storage'), '--runroot', join(buildahRoot, 'run'), '--storage-driver', 'overlay'];

function runHoist() {
  const args = [HOIST, 'build', ctx, '-t', 'bench/noop:1', '--output', `type=oci-layout,dest=${hoistOut}`, '--isolation', values.isolation, '--cache-dir', hoistCache, '--progress', 'plain'];
  return timed(process.execPath, args, { work, env: { ...process.env, HOIST_CACHE_DIR: '' } });
}

function runBuildah() {
  return timed('/usr/bin/buildah', [...buildahStore, 'bud', '--layers', '--isolation', 'chroot', '-t', 'bench/noop:1', ctx], { work });
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const cachedSteps = (output) => (output.match(/CACHED|Using cache/g) ?? []).length;

console.log(`bench/noop-rebuild: a cold build each, then ${runs} no-op rebuilds each, alternating; node ${process.version}, ${availableParallelism()} CPUs; work dir ${work}`);
makeContext(ctx);
const run = { hoist: runHoist, buildah: runBuildah };
const samples = { hoist: [], buildah: [] };
const loads = [];
try {
  for (const tool of tools) {
    const cold = await run[tool]();
    console.log(`  cold ${tool.padEnd(7)} ${cold.wall.toFixed(2)} s`);
  }
  for (let r = 0; r < runs; r++) {
    const order = r % 2 === 0 ? tools : [...tools].reverse();
    for (const tool of order) {
      const load = loadavg()[0];
      const m = await run[tool]();
      loads.push(load, loadavg()[0]);
      samples[tool].push(m);
      console.log(
        `  run ${r + 1} ${tool.padEnd(7)} ${m.wall.toFixed(3)} s, cpu ${(m.user + m.sys).toFixed(2)} s, peak RSS ${(m.rssKiB / 1024).toFixed(0)} MB, ${cachedSteps(m.output)} steps cached; load ${load.toFixed(2)} -> ${loadavg()[0].toFixed(2)}`,
      );
      if (values.verbose) console.log(m.output.split('\n').map((l) => `    ${l}`).join('\n'));
    }
  }
} finally {
  if (tools.includes('buildah')) {
    await timed('/usr/bin/buildah', [...buildahStore, 'rmi', '--all', '--force'], { work }).catch(() => undefined);
    await timed('/usr/bin/umount', ['-R', join(buildahRoot, 'storage', 'overlay')], { work }).catch(() => undefined);
  }
  if (values.dir === undefined && !values.keep) rmSync(work, { recursive: true, force: true });
}
const h = samples.hoist.length ? median(samples.hoist.map((m) => m.wall)) : NaN;
const b = samples.buildah.length ? median(samples.buildah.map((m) => m.wall)) : NaN;
const target = Number(values['target-seconds']);
const ratioTarget = Number(values['target-ratio']);
if (!Number.isNaN(h)) console.log(`\nmedian no-op rebuild: hoist ${h.toFixed(3)} s (target <= ${target} s): ${h <= target ? 'ok' : 'MISSED'}`);
if (!Number.isNaN(b)) console.log(`median no-op rebuild: buildah bud --layers ${b.toFixed(3)} s`);
if (!Number.isNaN(h) && !Number.isNaN(b)) console.log(`hoist/buildah ${(h / b).toFixed(2)} (target <= ${ratioTarget}): ${h / b <= ratioTarget ? 'ok' : 'MISSED'}`);
console.log(`load average (1 min) during the runs: ${Math.min(...loads).toFixed(2)} .. ${Math.max(...loads).toFixed(2)} on ${availableParallelism()} CPUs${Math.max(...loads) > 1 ? ': noisy, re-measure on a quiet machine' : ''}`);
