// A stage that alternates RUN and COPY: how long a build takes when every
// COPY follows a RUN (the stage's files must be known after each RUN), and
// where a later stage reuses an earlier stage's rootfs. See README.md.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '20' },
    runs: { type: 'string', default: '3' },
    isolation: { type: 'string', default: 'auto' },
    verbose: { type: 'boolean', short: 'v', default: false },
    only: { type: 'string' },
  },
});

const dist = fileURLToPath(new URL('../../dist/src/', import.meta.url));
if (!existsSync(join(dist, 'builder/executor/build.js'))) {
  console.error('bench/stage-steps: build first (npx tsc -p tsconfig.json)');
  process.exit(1);
}
const { build } = await import(join(dist, 'builder/executor/build.js'));
const { BlobStore } = await import(join(dist, 'oci/index.js'));

const busybox = execFileSync('sh', ['-c', 'command -v busybox'], { encoding: 'utf8' }).trim();
const work = mkdtempSync(join(tmpdir(), 'hoist-bench-stage-steps-'));
const context = join(work, 'ctx');
const root = join(context, 'rootfs');
mkdirSync(join(root, 'bin'), { recursive: true });
copyFileSync(busybox, join(root, 'bin/busybox'));
chmodSync(join(root, 'bin/busybox'), 0o755);
for (const rel of execFileSync(busybox, ['--list-full'], { encoding: 'utf8' }).split('\n').map((l) => l.trim())) {
  if (rel === '' || rel === 'bin/busybox') continue;
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  symlinkSync('/bin/busybox', join(root, rel));
}
mkdirSync(join(root, 'etc'));
writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
writeFileSync(join(root, 'etc/group'), 'root:x:0:\napp:x:1000:\n');
mkdirSync(join(root, 'tmp'));
chmodSync(join(root, 'tmp'), 0o1777);
const steps = Number(values.steps);
for (let i = 0; i < steps; i++) writeFileSync(join(context, `f${i}`), `file ${i}\n`);

const dockerfiles = {
  alternating: [
    'FROM scratch AS base',
    'COPY rootfs /',
    'FROM base',
    ...Array.from({ length: steps }, (_, i) => [`RUN echo ${i} > /run-${i}`, `COPY --chown=app f${i} /copied/`]).flat(),
  ],
  'from-stage': [
    'FROM scratch AS base',
    'COPY rootfs /',
    'FROM base AS builder',
    ...Array.from({ length: steps }, (_, i) => `RUN echo ${i} > /run-${i}`),
    'FROM builder AS next',
    'RUN ls / > /listing',
    'FROM base',
    'COPY --from=next /listing /run-3 /out/',
  ],
  // builder is read again after next: next gets a copy of builder's rootfs, not builder's own.
  'from-stage-read-later': [
    'FROM scratch AS base',
    'COPY rootfs /',
    'FROM base AS builder',
    ...Array.from({ length: steps }, (_, i) => `RUN echo ${i} > /run-${i}`),
    'FROM builder AS next',
    'RUN ls / > /listing',
    'FROM base',
    'COPY --from=next /listing /out/',
    'COPY --from=builder /run-3 /out/',
  ],
};

const platform = { os: 'linux', architecture: 'amd64' };
async function once(lines) {
  const store = new BlobStore(join(work, `store-${Math.random().toString(36).slice(2)}`));
  const out = join(work, `out-${Math.random().toString(36).slice(2)}`);
  const started = process.hrtime.bigint();
  const kinds = new Map();
  const byKind = {};
  await build({
    contextDir: context,
    dockerfileText: lines.join('\n'),
    dockerfile: join(context, 'Dockerfile'),
    buildArgs: new Map(),
    buildPlatform: platform,
    targetPlatform: platform,
    store,
    outputs: [{ type: 'oci-layout', dest: out }],
    tags: ['bench:stage-steps'],
    epoch: 0,
    isolation: values.isolation,
    onEvent: (e) => {
      if (e.type === 'step-start') kinds.set(e.step, `${e.instruction.split(' ')[0]}${e.stage === 2 && e.instruction.startsWith('RUN') ? ' (next)' : ''}`);
      if (e.type === 'step-done') byKind[kinds.get(e.step)] = (byKind[kinds.get(e.step)] ?? 0) + e.durationMs / 1000;
      if (values.verbose && e.type === 'step-done') console.log(`  ${e.durationMs} ms  step ${e.step}`);
      if (values.verbose && e.type === 'warning') console.log(`  ${e.message}`);
    },
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  rmSync(store.root ?? join(work, 'x'), { recursive: true, force: true });
  rmSync(out, { recursive: true, force: true });
  return { seconds, byKind };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
try {
  for (const [name, lines] of Object.entries(dockerfiles)) {
    if (values.only !== undefined && !values.only.split(',').includes(name)) continue;
    const results = [];
    for (let r = 0; r < Number(values.runs); r++) results.push(await once(lines));
    const times = results.map((r) => r.seconds);
    console.log(`${name} (${steps} steps): median ${median(times).toFixed(2)} s of ${times.map((t) => t.toFixed(2)).join(', ')}`);
    for (const kind of Object.keys(results[0].byKind).sort()) {
      const sums = results.map((r) => r.byKind[kind] ?? 0);
      console.log(`  ${kind} steps, total per build: median ${median(sums).toFixed(2)} s of ${sums.map((t) => t.toFixed(2)).join(', ')}`);
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
