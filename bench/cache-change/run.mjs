// One changed COPY input near the end of bench/noop-rebuild's 20-step
// Dockerfile: the rebuild against a cold build, hoist and (if installed)
// `buildah bud --layers`, alternating. See README.md.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { timed } from '../lib/registry.mjs';
import { BUSYBOX, KEYED_STEPS, makeTwentyStepContext } from '../lib/twenty-steps.mjs';
import { HOIST, requirePrerequisites } from '../lib/prerequisites.mjs';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    isolation: { type: 'string', default: 'chroot' },
    only: { type: 'string', default: existsSync('/usr/bin/buildah') ? 'hoist,buildah' : 'hoist' },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
    verbose: { type: 'boolean', short: 'v', default: false },
  },
});

const tools = values.only.split(',');
requirePrerequisites('cache-change', [
  ['/usr/bin/buildah', !tools.includes('buildah') || existsSync('/usr/bin/buildah')],
  ['a static busybox (apt-get install busybox-static)', BUSYBOX !== undefined],
  ['/usr/bin/time', existsSync('/usr/bin/time')],
]);
const runs = Number(values.runs);
const work = values.dir ?? mkdtempSync(join(tmpdir(), 'hoist-bench-change-'));
mkdirSync(work, { recursive: true });

const ctx = join(work, 'context');
// The input that changes: a file of the last COPY (`COPY src/e/ /app/e/`, step 19 of 21); only that COPY and the RUN after it should run again.
const changed = join(ctx, 'src/e/f0.txt');
const CHANGED_STEPS = ['COPY src/e/ /app/e/', 'RUN /bin/busybox find /app -type f | /bin/busybox wc -l > /out/count'];
const hoistCache = join(work, 'hoist-cache');
const hoistOut = join(work, 'hoist-layout');
const metadata = join(work, 'hoist-metadata.json');
const buildahRoot = join(work, 'buildah-root');
const buildahStore = ['--root', join(buildahRoot, 'storage'), '--runroot', join(buildahRoot, 'run'), '--storage-driver', 'overlay'];

/** A hoist build; which keyed steps (COPY, RUN, WORKDIR) ran and how many were restored, from the metadata file. */
async function hoist() {
  rmSync(metadata, { force: true });
  const args = [HOIST, 'build', ctx, '-t', 'bench/change:1', '--output', `type=oci-layout,dest=${hoistOut}`, '--isolation', values.isolation, '--cache-dir', hoistCache, '--progress', 'plain', '--metadata-file', metadata];
  const m = await timed(process.execPath, args, { work, env: { ...process.env, HOIST_CACHE_DIR: '' } });
  const steps = JSON.parse(readFileSync(metadata, 'utf8')).steps.filter((s) => /^(COPY|ADD|RUN|WORKDIR)\b/.test(s.instruction));
  const progressCached = (m.output.match(/^#\d+ CACHED$/gm) ?? []).length;
  return { ...m, cached: steps.filter((s) => s.cached === true).length, ran: steps.filter((s) => s.cached !== true).map((s) => s.instruction), progressCached };
}

/** A buildah bud --layers build; "Using cache" lines are its cached steps (metadata steps included). */
async function buildah() {
  const m = await timed('/usr/bin/buildah', [...buildahStore, 'bud', '--layers', '--isolation', 'chroot', '-t', 'bench/change:1', ctx], { work });
  return { ...m, cached: (m.output.match(/Using cache/g) ?? []).length };
}

async function fresh(tool) {
  if (tool === 'hoist') {
    rmSync(hoistCache, { recursive: true, force: true });
    rmSync(hoistOut, { recursive: true, force: true });
  } else if (existsSync(buildahRoot)) {
    await timed('/usr/bin/buildah', [...buildahStore, 'rmi', '--all', '--force'], { work }).catch(() => undefined);
    await timed('/usr/bin/umount', ['-R', join(buildahRoot, 'storage', 'overlay')], { work }).catch(() => undefined);
    rmSync(buildahRoot, { recursive: true, force: true });
  }
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

console.log(`bench/cache-change: per run and tool a cold build (empty cache), then ${changed.slice(ctx.length + 1)} changed and a rebuild; ${runs} runs, alternating; node ${process.version}, ${availableParallelism()} CPUs; work dir ${work}`);
makeTwentyStepContext(ctx);
const build = { hoist, buildah };
const samples = Object.fromEntries(tools.map((t) => [t, { cold: [], rebuild: [], coldCpu: [], rebuildCpu: [] }]));
const loads = [];
let wrong = 0;
try {
  for (let r = 0; r < runs; r++) {
    const order = r % 2 === 0 ? tools : [...tools].reverse();
    for (const tool of order) {
      await fresh(tool);
      writeFileSync(changed, `before, run ${r + 1}\n`);
      const load = loadavg()[0];
      const cold = await build[tool]();
      writeFileSync(changed, `after, run ${r + 1}\n`);
      const again = await build[tool]();
      loads.push(load, loadavg()[0]);
      samples[tool].cold.push(cold.wall);
      samples[tool].rebuild.push(again.wall);
      samples[tool].coldCpu.push(cold.user + cold.sys);
      samples[tool].rebuildCpu.push(again.user + again.sys);
      const what =
        tool === 'hoist'
          ? `${again.cached}/${KEYED_STEPS} keyed steps cached (progress: ${again.progressCached} CACHED), ran: ${again.ran.map((i) => i.split(' ').slice(0, 2).join(' ')).join(', ')}`
          : `${again.cached} steps "Using cache" (cold: ${cold.cached})`;
      console.log(
        `  run ${r + 1} ${tool.padEnd(7)} cold ${cold.wall.toFixed(2)} s (cpu ${(cold.user + cold.sys).toFixed(2)} s), rebuild ${again.wall.toFixed(2)} s (cpu ${(again.user + again.sys).toFixed(2)} s), ${(again.wall / cold.wall).toFixed(2)} of cold; ${what}; load ${load.toFixed(2)} -> ${loadavg()[0].toFixed(2)}`,
      );
      if (tool === 'hoist' && (cold.cached !== 0 || again.cached !== KEYED_STEPS - CHANGED_STEPS.length || again.ran.join('\n') !== CHANGED_STEPS.join('\n'))) {
        wrong++;
        console.log(`    UNEXPECTED: the cold build should cache nothing (it cached ${cold.cached}) and the rebuild run exactly: ${CHANGED_STEPS.join(' / ')}`);
      }
      if (values.verbose) console.log(again.output.split('\n').map((l) => `    ${l}`).join('\n'));
    }
  }
} finally {
  for (const tool of tools) await fresh(tool);
  if (values.dir === undefined && !values.keep) rmSync(work, { recursive: true, force: true });
}
console.log('');
for (const tool of tools) {
  const cold = median(samples[tool].cold);
  const rebuild = median(samples[tool].rebuild);
  const [coldCpu, rebuildCpu] = [median(samples[tool].coldCpu), median(samples[tool].rebuildCpu)];
  console.log(
    `median ${tool.padEnd(7)} cold ${cold.toFixed(2)} s, rebuild after the change ${rebuild.toFixed(2)} s: ${(rebuild / cold).toFixed(2)} of cold (CPU ${coldCpu.toFixed(2)} s and ${rebuildCpu.toFixed(2)} s: ${(rebuildCpu / coldCpu).toFixed(2)})`,
  );
}
if (tools.length === 2) {
  const rb = (t) => median(samples[t].rebuild);
  const cold = (t) => median(samples[t].cold);
  console.log(`hoist/buildah: cold ${(cold('hoist') / cold('buildah')).toFixed(2)}, rebuild ${(rb('hoist') / rb('buildah')).toFixed(2)}`);
}
if (tools.includes('hoist')) console.log(wrong === 0 ? `hoist: every rebuild ran only ${CHANGED_STEPS.length} steps, the changed COPY and the RUN after it` : `hoist: ${wrong} rebuild(s) did not run exactly the steps after the change`);
console.log(`load average (1 min) during the runs: ${Math.min(...loads).toFixed(2)} .. ${Math.max(...loads).toFixed(2)} on ${availableParallelism()} CPUs${Math.max(...loads) > availableParallelism() ? ': figures and ratios are under load, re-measure on a quiet machine' : ''}`);
if (wrong > 0) process.exitCode = 1;
