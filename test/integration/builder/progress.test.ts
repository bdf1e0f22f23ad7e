import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build } from '../../../src/builder/executor/build.js';
import { localStepCache } from '../../../src/builder/executor/local-cache.js';
import type { BuildEvent } from '../../../src/builder/events.js';
import { BlobStore } from '../../../src/oci/index.js';
import { copyImage } from '../../../src/images/transfer.js';
import type { TransferProgress } from '../../../src/oci/progress.js';
import { RegistryClient, RegistrySink, RegistrySource } from '../../../registry/index.js';
import { anonymousKeychain } from '../../../registry/keychain/index.js';
import { buildOptions, makeContext, tempDir } from '../../helpers/build.js';
import { readOciLayout } from '../../helpers/oci-reader.js';
import { AMD64 } from '../../helpers/plan.js';
import { startRegistry, type RunningRegistry } from '../../helpers/registry/index.js';

type Of<T extends BuildEvent['type']> = Extract<BuildEvent, { type: T }>;
const ofType = <T extends BuildEvent['type']>(events: BuildEvent[], type: T): Array<Of<T>> => events.filter((e): e is Of<T> => e.type === type);

describe('build progress events', () => {
  let registry: RunningRegistry;
  let client: RegistryClient;
  const BIG = 3 * 1024 * 1024;
  const ctx = makeContext({
    'passwd': 'root:x:0:0::/root:/bin/sh\n',
    // base64 of random bytes: it compresses, but not to nothing
    'big.bin': randomBytes((BIG * 3) / 4).toString('base64'),
    'app/a.txt': 'a',
    'app/b.txt': 'b',
  });

  /** Build `dockerfile` with a fresh store, so that every base layer is downloaded; returns what was reported. */
  async function run(dockerfile: string, tag: string, metadataFile?: string) {
    const events: BuildEvent[] = [];
    const transfers: TransferProgress[] = [];
    const store = new BlobStore(tempDir('hoist-progress-store-'));
    const out = path.join(tempDir('hoist-progress-out-'), 'layout');
    const result = await build(
      buildOptions(ctx, dockerfile, store, {
        buildArgs: new Map([['UNUSED', 'x']]),
        images: new RegistrySource(client, { store, defaultPlatform: AMD64, onProgress: (p) => transfers.push(p) }),
        push: new RegistrySink(client, { onProgress: (p) => transfers.push(p) }),
        outputs: [{ type: 'oci-layout', dest: out }],
        tags: [tag],
        metadataFile,
        onEvent: (e) => events.push(e),
      }),
    );
    return { result, events, transfers, image: await readOciLayout(out) };
  }

  beforeAll(async () => {
    registry = await startRegistry();
    client = new RegistryClient({ keychain: anonymousKeychain() });
  });
  afterAll(async () => {
    await client?.close();
    await registry?.stop();
  });

  it('reports steps with their lines, times and layers, compression, uploads and downloads', async () => {
    const base = await run('FROM scratch\nCOPY passwd /etc/passwd\nCOPY big.bin /data/\n', `${registry.host}/progress/base:1`);
    const starts = ofType(base.events, 'step-start');
    expect(starts.map((s) => [s.step, s.index, s.total, s.instruction, s.location.line])).toEqual([
      [1, 1, 3, 'FROM scratch', 1],
      [2, 2, 3, 'COPY passwd /etc/passwd', 2],
      [3, 3, 3, 'COPY big.bin /data/', 3],
    ]);
    expect(base.events[0]).toMatchObject({ type: 'warning', message: expect.stringContaining('UNUSED') });
    const done = ofType(base.events, 'step-done');
    expect(done.map((d) => d.step)).toEqual([1, 2, 3]);

    // A FROM with variables shows the image it names, as BuildKit does.
    const expanded = await run('ARG BASE=scratch\nFROM ${BASE} AS first\nCOPY passwd /etc/passwd\n', `${registry.host}/progress/expanded:1`);
    expect(ofType(expanded.events, 'step-start')[0]?.instruction).toBe('FROM scratch AS first');
    expect(done.map((d) => d.layer?.digest)).toEqual([undefined, ...base.image.manifest.layers.map((l: { digest: string }) => l.digest)]);
    expect(done[2]?.layer?.size).toBe(base.image.manifest.layers[1]?.size);
    for (const d of done) expect(d.durationMs).toBeGreaterThanOrEqual(0);
    // times only move forward
    const times = base.events.map((e) => e.time);
    expect([...times].sort((a, b) => a - b)).toEqual(times);

    const compress = ofType(base.events, 'transfer').filter((t) => t.step === 3);
    expect(compress.length).toBeGreaterThan(0);
    expect(compress.every((t) => t.action === 'compress' && t.total === BIG)).toBe(true);
    expect(compress.at(-1)).toMatchObject({ status: 'done', current: BIG });
    const currents = compress.map((t) => t.current);
    expect([...currents].sort((a, b) => a - b)).toEqual(currents);

    const outputs = base.events.filter((e) => e.type === 'output-start' || e.type === 'output-done');
    expect(outputs.map((e) => e.type)).toEqual(['output-start', 'output-done', 'output-start', 'output-done']);
    expect(outputs[2]).toMatchObject({ description: `pushing ${registry.host}/progress/base:1` });

    // Every blob of the push was reported, the big layer with bytes on the way and its end.
    const uploads = base.transfers.filter((t) => t.action === 'upload');
    const bigLayer = base.image.manifest.layers[1] as { digest: string; size: number };
    const bigUpload = uploads.filter((t) => t.id === bigLayer.digest);
    expect(bigUpload.at(-1)).toEqual({ action: 'upload', id: bigLayer.digest, current: bigLayer.size, total: bigLayer.size, status: 'done' });
    expect(bigUpload.some((t) => t.status === 'running' && t.current > 0)).toBe(true);
    const finished = new Set(uploads.filter((t) => t.status !== 'running').map((t) => t.id));
    expect(finished).toEqual(new Set([base.image.manifest.config.digest, ...base.image.manifest.layers.map((l: { digest: string }) => l.digest)]));

    // A build on that base downloads its layers (COPY into /etc must see them) and mounts them on push.
    const meta = path.join(tempDir('hoist-progress-meta-'), 'meta.json');
    const app = await run(`FROM ${registry.host}/progress/base:1\nCOPY app/ /etc/app/\n`, `${registry.host}/progress/app:1`, meta);
    const downloads = app.transfers.filter((t) => t.action === 'download' && t.id === bigLayer.digest);
    expect(downloads.at(-1)).toEqual({ action: 'download', id: bigLayer.digest, current: bigLayer.size, total: bigLayer.size, status: 'done' });
    const pushedBase = app.transfers.filter((t) => t.action === 'upload' && t.id === bigLayer.digest);
    expect(pushedBase).toEqual([{ action: 'upload', id: bigLayer.digest, current: bigLayer.size, total: bigLayer.size, status: 'mounted' }]);

    // The registry base is opened before the first step, and says so (nothing is blank at the start).
    const opening = app.events.findIndex((e) => e.type === 'base-start');
    expect(app.events[opening]).toMatchObject({ type: 'base-start', base: 1, ref: `${registry.host}/progress/base:1` });
    expect(app.events.findIndex((e) => e.type === 'base-done')).toBeGreaterThan(opening);
    expect(app.events.findIndex((e) => e.type === 'stage-start')).toBeGreaterThan(app.events.findIndex((e) => e.type === 'base-done'));

    // The metadata file has every step, its time and its layer.
    const report = JSON.parse(readFileSync(meta, 'utf8')) as { steps: Array<Record<string, unknown>>; layers: Array<{ digest: string; size: number }> };
    expect(report.steps.map((s) => [s.name, s.instruction, s.line])).toEqual([
      ['[1/2]', `FROM ${registry.host}/progress/base:1`, 1],
      ['[2/2]', 'COPY app/ /etc/app/', 2],
    ]);
    expect(report.steps[1]?.layer).toEqual({ digest: report.layers[2]?.digest, size: report.layers[2]?.size });
    expect(typeof report.steps[1]?.durationMs).toBe('number');
    expect(app.result.report.steps).toEqual(report.steps);
  });

  it('a pull from the registry (the whole index or image, as stored) reports every blob it downloads', async () => {
    const pushed = await run('FROM scratch\nCOPY big.bin /data/\n', `${registry.host}/progress/pulled:1`);
    const transfers: TransferProgress[] = [];
    const store = new BlobStore(tempDir('hoist-progress-pull-store-'));
    const dest = path.join(tempDir('hoist-progress-pull-'), 'layout');
    const access = { store, registry: () => client, platform: AMD64, cacheBlobs: false, onProgress: (p: TransferProgress) => transfers.push(p) };
    expect(await copyImage(`${registry.host}/progress/pulled:1`, `oci-layout:${dest}:x`, access)).toBe(pushed.result.digest);
    const finished = transfers.filter((t) => t.action === 'download' && t.status === 'done').map((t) => t.id);
    const manifest = pushed.image.manifest as { config: { digest: string }; layers: Array<{ digest: string }> };
    expect(new Set(finished)).toEqual(new Set([manifest.config.digest, ...manifest.layers.map((l) => l.digest)]));
  });

  it('ends a step before the next starts, unless its layer is still being compressed', async () => {
    const store = new BlobStore(tempDir('hoist-progress-order-'));
    await store.prepare();
    const cache = await localStepCache(store);
    const order = async (): Promise<BuildEvent[]> => {
      const events: BuildEvent[] = [];
      await build({
        contextDir: ctx,
        dockerfileText: 'FROM scratch\nENV A=1\nLABEL b=2\nCOPY big.bin /big.bin\nENV C=3\nCOPY passwd /etc/passwd\n',
        dockerfile: path.join(ctx, 'Dockerfile'),
        buildArgs: new Map(),
        buildPlatform: AMD64,
        targetPlatform: AMD64,
        store,
        cache,
        outputs: [],
        tags: [],
        onEvent: (e) => events.push(e),
      });
      return events;
    };
    const ended = (events: BuildEvent[], step: number): number => events.findIndex((e) => (e.type === 'step-done' || e.type === 'step-cached') && e.step === step);
    const started = (events: BuildEvent[], step: number): number => events.findIndex((e) => e.type === 'step-start' && e.step === step);
    // Steps 2, 3 and 5 (ENV, LABEL, ENV) change no files: each ends before the next starts.
    const cold = await order();
    for (const step of [1, 2, 3, 5]) expect(ended(cold, step)).toBeLessThan(started(cold, step + 1));
    expect(ended(cold, 4)).toBeGreaterThan(started(cold, 4));
    // From the cache, every step ends before the next starts.
    const rebuilt = await order();
    expect(rebuilt.filter((e) => e.type === 'step-cached').map((e) => (e as { step: number }).step)).toEqual([4, 6]);
    for (const step of [1, 2, 3, 4, 5]) expect(ended(rebuilt, step)).toBeLessThan(started(rebuilt, step + 1));
  });

  it('names stages when several are built and reports a failing step', async () => {
    const events: BuildEvent[] = [];
    const store = new BlobStore(tempDir('hoist-progress-store-'));
    await expect(
      build(buildOptions(ctx, 'FROM scratch AS one\nCOPY passwd /\nFROM scratch\nCOPY --from=one /passwd /\nCOPY missing.txt /\n', store, { onEvent: (e) => events.push(e) })),
    ).rejects.toThrow(/missing\.txt/);
    expect(ofType(events, 'stage-start').map((s) => [s.stage, s.label, s.steps])).toEqual([
      [0, 'one', 2],
      [1, 'stage-1', 3],
    ]);
    expect(ofType(events, 'step-start').map((s) => `${s.label} ${s.index}/${s.total}`)).toEqual(['one 1/2', 'one 2/2', 'stage-1 1/3', 'stage-1 2/3', 'stage-1 3/3']);
    const failed = ofType(events, 'step-error').filter((e) => e.canceled !== true);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ step: 5, message: expect.stringContaining('missing.txt') });
    // Step 4's layer is compressed while step 5 runs: it is done, or canceled when step 5 fails first; either way it ends once.
    const ends = events.flatMap((e) => (e.type === 'step-done' || (e.type === 'step-error' && e.canceled === true) ? [e.step] : []));
    expect(ends.sort()).toEqual([1, 2, 3, 4]);
    expect(ofType(events, 'step-done').map((d) => d.step).slice(0, 3)).toEqual([1, 2, 3]);
  });
});
