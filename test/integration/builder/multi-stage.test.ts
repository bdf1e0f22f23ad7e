/**
 * Multi-stage builds: stages that do not depend on each other run at once
 * (`jobs`) and give what a sequential build gives; a failing stage stops
 * the others; an unneeded stage is not built; COPY --from keeps modes and
 * owners; a stage FROM another goes on from its rootfs without unpacking.
 */
import { readdir, readFile } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { build, type BuildOptions } from '../../../src/builder/executor/build.js';
import type { BuildEvent } from '../../../src/builder/events.js';
import { localStepCache } from '../../../src/builder/executor/local-cache.js';
import type { BuildReport } from '../../../src/builder/executor/reports.js';
import { BlobStore } from '../../../src/oci/index.js';
import { APP_GID, APP_UID, STAFF_GID, makeBusyboxRootfs } from '../../helpers/busybox-rootfs.js';
import { tempDir } from '../../helpers/build.js';
import { processesRunning } from '../../helpers/processes.js';
import { scratchTmpdir } from '../../helpers/scratch-tmpdir.js';
import { readOciLayout, type ReadImage, type TarMember } from '../../helpers/oci-reader.js';
import { AMD64 } from '../../helpers/plan.js';

let context: string;
const scratch = scratchTmpdir('hoist-multistage-tmp-');
const BASE = ['FROM scratch AS base', 'COPY rootfs /'];

interface Built {
  image: ReadImage;
  digest: string;
  events: BuildEvent[];
  report: BuildReport;
}

async function hoistBuild(lines: string[], extra: Partial<BuildOptions> = {}): Promise<Built> {
  const dir = tempDir('hoist-multistage-out-');
  const out = path.join(dir, 'layout');
  const metadataFile = path.join(dir, 'metadata.json');
  const events: BuildEvent[] = [];
  const result = await build({
    contextDir: context,
    dockerfileText: [...BASE, ...lines].join('\n'),
    dockerfile: path.join(context, 'Dockerfile'),
    buildArgs: new Map(),
    buildPlatform: AMD64,
    targetPlatform: AMD64,
    store: new BlobStore(tempDir('hoist-multistage-store-')),
    outputs: [{ type: 'oci-layout', dest: out }],
    tags: ['multistage:test'],
    epoch: 0,
    metadataFile,
    cacheMountsDir: tempDir('hoist-multistage-mounts-'),
    onEvent: (e) => events.push(e),
    ...extra,
  });
  const report = JSON.parse(await readFile(metadataFile, 'utf8')) as BuildReport;
  return { image: await readOciLayout(out), digest: result.digest, events, report };
}

function member(layer: TarMember[] | undefined, name: string): TarMember {
  const found = layer?.find((m) => m.name === name);
  if (found === undefined) throw new Error(`${name} is not in the layer (${layer?.map((m) => m.name).join(', ')})`);
  return found;
}

/** The step records of a cache dir: file name -> content. */
async function stepRecords(root: string): Promise<Map<string, string>> {
  const records = new Map<string, string>();
  const dir = path.join(root, 'steps');
  for (const sub of await readdir(dir)) {
    for (const name of await readdir(path.join(dir, sub))) {
      if (!name.endsWith('.json')) continue;
      // `stored` is when the record was written (for --cache-ttl): each build's own time, not part of what it records.
      const { stored: _stored, ...record } = JSON.parse(await readFile(path.join(dir, sub, name), 'utf8')) as Record<string, unknown>;
      records.set(`${sub}/${name}`, JSON.stringify(record));
    }
  }
  return records;
}


function leftovers(): string[] {
  return readdirSync(scratch.dir).filter((name) => name.startsWith('hoist-build-'));
}

beforeAll(async () => {
  context = tempDir('hoist-multistage-ctx-');
  await makeBusyboxRootfs(path.join(context, 'rootfs'));
}, 300_000);

describe('concurrent stages', () => {
  // Two stages that meet: each RUN makes its file in a shared cache mount and waits for the other's. Sequentially, the first would wait in vain.
  const meet = (mine: string, theirs: string) =>
    `RUN --mount=type=cache,id=meet,target=/shared touch /shared/${mine} && i=0 && while [ ! -e /shared/${theirs} ] && [ $i -lt 1800 ]; do sleep 0.1; i=$((i+1)); done && test -e /shared/${theirs} && echo ${mine} > /${mine}`;

  it('run at the same time: two stages whose RUNs wait for each other both finish', async () => {
    const { image, events } = await hoistBuild(
      ['FROM base AS left', meet('left', 'right'), 'FROM base AS right', meet('right', 'left'), 'FROM scratch', 'COPY --from=left /left /', 'COPY --from=right /right /'],
      { jobs: 2 },
    );
    const files = new Map(image.layers.flat().map((m) => [m.name, m.content.toString()]));
    expect(files.get('left')).toBe('left\n');
    expect(files.get('right')).toBe('right\n');
    // Progress shows both RUNs running at once, each under its own step number.
    const runs = events.filter((e): e is Extract<BuildEvent, { type: 'step-start' }> => e.type === 'step-start' && e.instruction.startsWith('RUN'));
    expect(runs.map((r) => r.label).sort()).toEqual(['left', 'right']);
    expect(new Set(runs.map((r) => r.step)).size).toBe(2);
    for (const run of runs) {
      const other = runs.find((r) => r !== run) as (typeof runs)[number];
      const started = events.indexOf(other);
      const done = events.findIndex((e) => e.type === 'step-done' && e.step === run.step);
      expect(started).toBeLessThan(done);
    }
  }, 300_000);

  it('give the image, history and cache records of a sequential build', async () => {
    const lines = [
      'FROM base AS a',
      'RUN echo a > /a && chmod 4755 /a',
      'FROM base AS b',
      'RUN echo b > /b',
      'COPY rootfs/etc/group /b-group',
      'FROM b AS c',
      'RUN cat /b /b-group > /c',
      'FROM base AS d',
      'COPY --from=a /a /d-a',
      'RUN cat /d-a > /d',
      // The same step as a's: built at once, the two meet on one cache key (one builds it, the other restores it).
      'FROM base AS e',
      'RUN echo a > /a && chmod 4755 /a',
      'FROM scratch',
      'COPY --from=a /a /a',
      'COPY --from=c /c /c',
      'COPY --from=d /d /d',
      'COPY --from=e /a /e',
    ];
    const built = [];
    for (const jobs of [1, 4]) {
      const store = new BlobStore(tempDir('hoist-multistage-store-'));
      await store.prepare();
      const result = await hoistBuild(lines, { jobs, store, cache: await localStepCache(store) });
      built.push({ ...result, records: await stepRecords(store.root) });
    }
    const [sequential, concurrent] = built as [(typeof built)[number], (typeof built)[number]];
    expect(concurrent.digest).toBe(sequential.digest);
    expect(concurrent.image.config).toEqual(sequential.image.config);
    expect(concurrent.records.size).toBeGreaterThan(5);
    expect(concurrent.records).toEqual(sequential.records);
    // The same steps were built, whatever order they ran in.
    const steps = (r: BuildReport) => r.steps.map((s) => `${s.name} ${s.instruction}`).sort();
    expect(steps(concurrent.report)).toEqual(steps(sequential.report));
    expect(concurrent.report.steps.map((s) => s.step)).toEqual([...concurrent.report.steps.keys()].map((i) => i + 1));
  }, 600_000);

  it('stop when one fails: the others are killed, nothing is left behind, and the error is the failing step', async () => {
    const started = Date.now();
    const failing = hoistBuild(
      [
        'FROM base AS slow',
        'RUN --mount=type=cache,id=fail,target=/shared touch /shared/slow && sleep 307',
        'FROM base AS bad',
        'RUN --mount=type=cache,id=fail,target=/shared i=0; while [ ! -e /shared/slow ] && [ $i -lt 1800 ]; do sleep 0.1; i=$((i+1)); done; echo broken >&2; exit 3',
        'FROM scratch',
        'COPY --from=slow /etc/passwd /slow',
        'COPY --from=bad /etc/passwd /bad',
      ],
      { jobs: 2 },
    );
    const err = (await failing.then(
      () => undefined,
      (e: unknown) => e,
    )) as { code?: string; message?: string } | undefined;
    expect(err).toMatchObject({ code: 'RUN_FAILED' });
    expect(err?.message).toMatch(/Dockerfile:6: RUN .* failed with exit code 3\nbroken$/);
    // The slow stage's sleep did not run to its end, and is gone.
    expect(Date.now() - started).toBeLessThan(300_000);
    expect(processesRunning(['sleep', '307'])).toBe(0);
    expect(leftovers()).toEqual([]);
  }, 400_000);
});

describe('stages that are not needed', () => {
  it('are not built: their steps are not in the metadata file, and their failure does not matter', async () => {
    const { report, image } = await hoistBuild(['FROM base AS unused', 'RUN exit 9', 'FROM base AS used', 'RUN echo u > /u', 'FROM scratch', 'COPY --from=used /u /u']);
    const names = report.steps.map((s) => s.name);
    expect(names.some((n) => n.startsWith('[unused'))).toBe(false);
    expect(report.steps.some((s) => s.line === 4)).toBe(false);
    expect(names.filter((n) => n.startsWith('[used'))).toEqual(['[used 1/2]', '[used 2/2]']);
    expect(report.steps.map((s) => s.stage).sort()).toEqual([0, 0, 2, 2, 3, 3]);
    expect(member(image.layers.at(-1), 'u').content.toString()).toBe('u\n');
  }, 300_000);
});

describe('COPY --from', () => {
  const perms = [
    'FROM base AS perms',
    `RUN mkdir -p /p/d /p/s && echo x > /p/f && chown ${APP_UID}:${APP_GID} /p/f && chmod 4755 /p/f && chown root:${STAFF_GID} /p/d && chmod 2755 /p/d && chmod 1777 /p/s && echo g > /p/g && chmod 2711 /p/g`,
  ];

  it('keeps setuid, setgid, sticky and owners from a stage', async () => {
    const { image } = await hoistBuild([...perms, 'FROM scratch', 'COPY --from=perms /p /out/']);
    const layer = image.layers.at(-1);
    expect(member(layer, 'out/f')).toMatchObject({ mode: 0o4755, uid: APP_UID, gid: APP_GID });
    expect(member(layer, 'out/d/')).toMatchObject({ mode: 0o2755, uid: 0, gid: STAFF_GID });
    expect(member(layer, 'out/s/')).toMatchObject({ mode: 0o1777, uid: 0, gid: 0 });
    expect(member(layer, 'out/g')).toMatchObject({ mode: 0o2711, uid: 0, gid: 0 });
  }, 300_000);

  it('takes the owner --chown gives and keeps the modes', async () => {
    const { image } = await hoistBuild([...perms, 'FROM scratch', 'COPY --from=perms --chown=7:8 /p /out/']);
    const layer = image.layers.at(-1);
    expect(member(layer, 'out/f')).toMatchObject({ mode: 0o4755, uid: 7, gid: 8 });
    expect(member(layer, 'out/d/')).toMatchObject({ mode: 0o2755, uid: 7, gid: 8 });
    expect(member(layer, 'out/s/')).toMatchObject({ mode: 0o1777, uid: 7, gid: 8 });
  }, 300_000);
});

describe('a stage FROM another', () => {
  const rootfsEvents = (events: BuildEvent[]) => events.filter((e) => e.type === 'rootfs').map((e) => (e as Extract<BuildEvent, { type: 'rootfs' }>).how);

  it('takes over the rootfs when nothing reads the earlier stage again: one unpack in the whole build', async () => {
    const { events, image } = await hoistBuild(['FROM base AS builder', 'RUN echo b > /b', 'FROM builder AS next', 'RUN echo n >> /b', 'FROM scratch', 'COPY --from=next /b /nb']);
    expect(member(image.layers.at(-1), 'nb').content.toString()).toBe('b\nn\n');
    expect(rootfsEvents(events)).toEqual(['unpack', 'inherit']);
  }, 300_000);

  it('copies the rootfs, without unpacking, when the earlier stage is read later', async () => {
    const { events, image } = await hoistBuild([
      'FROM base AS builder',
      'RUN echo b > /b',
      'FROM builder AS next',
      'RUN echo n >> /b',
      'FROM scratch',
      'COPY --from=next /b /nb',
      'COPY --from=builder /b /b',
    ]);
    const files = new Map(image.layers.flat().map((m) => [m.name, m.content.toString()]));
    expect(files.get('nb')).toBe('b\nn\n');
    expect(files.get('b')).toBe('b\n');
    expect(rootfsEvents(events)).toEqual(['unpack', 'copy']);
  }, 300_000);

  it('built at the same time as another stage FROM the same stage: each works on a copy', async () => {
    const { events, image } = await hoistBuild(
      [
        'FROM base AS a',
        'RUN echo a > /x',
        'FROM a AS b',
        'RUN echo b >> /x',
        'FROM a AS c',
        'RUN echo c >> /x',
        'FROM scratch',
        'COPY --from=b /x /bx',
        'COPY --from=c /x /cx',
      ],
      { jobs: 2 },
    );
    const files = new Map(image.layers.flat().map((m) => [m.name, m.content.toString()]));
    expect(files.get('bx')).toBe('a\nb\n');
    expect(files.get('cx')).toBe('a\nc\n');
    // Neither took a's rootfs over while the other still read it.
    expect(rootfsEvents(events)).toEqual(['unpack', 'copy', 'copy']);
  }, 300_000);

  it('leaves no rootfs behind', () => {
    expect(leftovers()).toEqual([]);
  });
});
