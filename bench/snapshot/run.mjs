// Snapshotter scaling: capture + diff of a rootfs-like tree where a step
// touched one file, against `find -printf` with the same stat fields, on the
// same tree in the same run; and the overlay snapshotter on the same tree,
// whose cost should not depend on its size. See README.md.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,100000' },
    runs: { type: 'string', default: '5' },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
    verbose: { type: 'boolean', short: 'v', default: false },
    overlay: { type: 'boolean', default: true },
  },
});

const dist = fileURLToPath(new URL('../../dist/snapshot/', import.meta.url));
if (!existsSync(join(dist, 'walk/index.js'))) {
  console.error('bench/snapshot: build first (npx tsc -p tsconfig.json); dist/snapshot/walk/index.js is missing');
  process.exit(1);
}
const { captureState, diffState } = await import(join(dist, 'walk/index.js'));
const { createTarStream } = await import(join(dist, 'layer-tar.js'));
const { OverlaySnapshotter } = await import(join(dist, 'overlay/index.js'));
const { overlayOp } = await import(fileURLToPath(new URL('../../dist/src/run/namespace-setup.js', import.meta.url)));

const sizes = values.sizes.split(',').map(Number);
const runs = Number(values.runs);
const work = values.dir ?? mkdtempSync(join(tmpdir(), 'hoist-bench-snapshot-'));
mkdirSync(work, { recursive: true });

/**
 * About `files` entries shaped like a distribution rootfs: 20 entries per
 * directory, two levels of directories under a few top ones; one in ten a
 * symlink, one in fifty a second hard link; contents 0-2 KiB.
 */
function generate(root, files) {
  if (existsSync(join(root, '.complete'))) return;
  rmSync(root, { recursive: true, force: true });
  let made = 0;
  for (let a = 0; made < files; a++) {
    for (let b = 0; b < 50 && made < files; b++) {
      const dir = join(root, `usr${a}`, `lib${b}`);
      mkdirSync(dir, { recursive: true });
      for (let f = 0; f < 20 && made < files; f++, made++) {
        const p = join(dir, `file-${f}.so`);
        if (f % 10 === 9) symlinkSync(`file-${f - 1}.so`, p);
        else if (f % 50 === 19) linkSync(join(dir, `file-${f - 1}.so`), p);
        else writeFileSync(p, 'x'.repeat((made * 37) % 2048));
      }
    }
  }
  writeFileSync(join(root, '.complete'), '');
}

function median(xs) {
  const s = [...xs].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Wall and CPU (user + system) milliseconds of `find -printf` over the tree, CPU as /usr/bin/time reports it. */
function timeFind(root) {
  const t = performance.now();
  return new Promise((resolve, reject) => {
    // The fields the walk records: type, mode, owner, size, mtime, ctime, inode, links, link target.
    const args = ['-f', '%U %S', 'find', root, '-printf', '%y %m %U %G %s %T@ %C@ %i %n %l %p\\0'];
    const child = execFile('/usr/bin/time', args, { maxBuffer: 1 << 30 }, (err, _out, stderr) => {
      if (err) return reject(err);
      const [user, sys] = stderr.trim().split('\n').at(-1).split(' ').map(Number);
      resolve({ wall: performance.now() - t, cpu: (user + sys) * 1000 });
    });
    child.stdout.resume();
  });
}

function cpuSince(start) {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

async function timeWalk(root, touched) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const before = await captureState(root);
  const t1 = performance.now();
  const captureCpu = cpuSince(c0);
  utimesSync(touched, new Date(), new Date());
  writeFileSync(touched, 'changed');
  const c2 = process.cpuUsage();
  const t2 = performance.now();
  const names = [];
  for await (const e of diffState(root, before)) names.push(e.path);
  const t3 = performance.now();
  const diffCpu = cpuSince(c2);
  // The same diff written as a layer tar (to nowhere), the path a RUN layer takes.
  let bytes = 0;
  for await (const chunk of createTarStream(diffState(root, before), { ordered: true })) bytes += chunk.length;
  const t4 = performance.now();
  return { capture: t1 - t0, diff: t3 - t2, tar: t4 - t3, cpu: captureCpu + diffCpu, entries: before.count, names, bytes };
}

/**
 * One step through the overlay snapshotter: fresh upper dir (beforeStep),
 * the step itself (unshare + mount the overlay over the tree + rewrite one
 * file, a process of its own: timed apart), then the upper dir read as
 * entries and merged back into the tree (changes).
 */
async function timeOverlay(root, scratch, touchedRel) {
  const snapshotter = new OverlaySnapshotter(root, { scratchDir: scratch });
  const t0 = performance.now();
  const dirs = await snapshotter.beforeStep();
  const t1 = performance.now();
  const op = overlayOp(root, dirs, true);
  execFileSync('unshare', ['--user', '--map-root-user', '--mount', '--propagation=private', '--', 'sh', '-euc',
    'mount -t overlay -o "$1" hoist-overlay "$2"; printf changed > "$2/$3"', 'sh', op.options, root, touchedRel]);
  const t2 = performance.now();
  const entries = await snapshotter.changes();
  const t3 = performance.now();
  return { prepare: t1 - t0, step: t2 - t1, changes: t3 - t2, names: entries.map((e) => e.path) };
}

function overlayWorks(scratch) {
  try {
    const probe = mkdtempSync(join(scratch, 'probe-'));
    for (const d of ['l', 'u', 'w', 'm']) mkdirSync(join(probe, d));
    execFileSync('unshare', ['--user', '--map-root-user', '--mount', '--', 'mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=${probe}/l,upperdir=${probe}/u,workdir=${probe}/w,userxattr`, `${probe}/m`], { stdio: 'pipe' });
    rmSync(probe, { recursive: true, force: true, maxRetries: 1 });
    return undefined;
  } catch (err) {
    return String(err.stderr ?? err.message).trim().split('\n').pop();
  }
}

const fmt = (ms) => `${(ms / 1000).toFixed(3)} s`;
console.log(`bench/snapshot: ${runs} runs per size, medians; tree under ${work}`);
for (const size of sizes) {
  const root = join(work, `tree-${size}`);
  const t = performance.now();
  generate(root, size);
  if (values.verbose) console.log(`  tree ${size}: ready in ${fmt(performance.now() - t)}`);
  const touched = join(root, 'usr0', 'lib0', 'file-0.so');
  const samples = { find: [], findCpu: [], capture: [], diff: [], tar: [], walk: [], walkCpu: [] };
  let last;
  await timeFind(root); // warm the dentry and inode caches for both sides
  for (let r = 0; r < runs; r++) {
    // Alternate who goes first: the machine may be shared and noisy.
    const first = r % 2 === 0;
    const f1 = first ? await timeFind(root) : undefined;
    last = await timeWalk(root, touched);
    const f = f1 ?? (await timeFind(root));
    samples.find.push(f.wall);
    samples.findCpu.push(f.cpu);
    samples.capture.push(last.capture);
    samples.diff.push(last.diff);
    samples.tar.push(last.tar);
    samples.walk.push(last.capture + last.diff);
    samples.walkCpu.push(last.cpu);
    if (values.verbose) {
      console.log(`  ${size} run ${r + 1}: capture ${fmt(last.capture)} diff ${fmt(last.diff)} (cpu ${fmt(last.cpu)}); find ${fmt(f.wall)} (cpu ${fmt(f.cpu)})`);
    }
  }
  const expected = ['usr0', 'usr0/lib0', 'usr0/lib0/file-0.so'];
  if (JSON.stringify(last.names) !== JSON.stringify(expected)) {
    console.error(`bench/snapshot: the diff should be ${expected.join(', ')}; got ${last.names.join(', ')}`);
    process.exit(1);
  }
  const walk = median(samples.walk);
  const find = median(samples.find);
  const walkCpu = median(samples.walkCpu);
  const findCpu = median(samples.findCpu);
  console.log(
    `${String(size).padStart(7)} files (${last.entries} entries): capture ${fmt(median(samples.capture))}, diff ${fmt(median(samples.diff))},` +
      ` both ${fmt(walk)} (cpu ${fmt(walkCpu)}); diff as a layer tar ${fmt(median(samples.tar))};` +
      ` find -printf ${fmt(find)} (cpu ${fmt(findCpu)}); walk/find ${(walk / find).toFixed(2)} wall, ${(walkCpu / findCpu).toFixed(2)} cpu`,
  );
  if (!values.overlay) continue;
  const scratch = join(work, 'overlay-scratch');
  mkdirSync(scratch, { recursive: true });
  const blocked = overlayWorks(scratch);
  if (blocked !== undefined) {
    console.log(`${String(size).padStart(7)} files: overlay does not mount in a user namespace here (${blocked})`);
    continue;
  }
  const o = { prepare: [], step: [], changes: [], snap: [] };
  let lastOverlay;
  for (let r = 0; r < runs; r++) {
    lastOverlay = await timeOverlay(root, scratch, 'usr0/lib0/file-0.so');
    o.prepare.push(lastOverlay.prepare);
    o.step.push(lastOverlay.step);
    o.changes.push(lastOverlay.changes);
    o.snap.push(lastOverlay.prepare + lastOverlay.changes);
    if (values.verbose) console.log(`  ${size} overlay run ${r + 1}: prepare ${fmt(lastOverlay.prepare)} step ${fmt(lastOverlay.step)} changes ${fmt(lastOverlay.changes)}`);
  }
  if (JSON.stringify(lastOverlay.names) !== JSON.stringify(expected)) {
    console.error(`bench/snapshot: the overlay diff should be ${expected.join(', ')}; got ${lastOverlay.names.join(', ')}`);
    process.exit(1);
  }
  console.log(
    `${String(size).padStart(7)} files, overlay: prepare ${fmt(median(o.prepare))}, read + merge the upper dir ${fmt(median(o.changes))},` +
      ` both ${fmt(median(o.snap))}; the step itself (unshare + mount + write) ${fmt(median(o.step))}`,
  );
}
if (values.dir === undefined && !values.keep) rmSync(work, { recursive: true, force: true });
