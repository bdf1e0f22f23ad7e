/**
 * The local build cache, through real builds: every change that can alter a
 * step's result misses, everything else hits, and a rebuild that changed
 * nothing gives the same image (with SOURCE_DATE_EPOCH and without it).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, linkSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { PassThrough } from 'node:stream';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { build, type BuildOptions } from '../../../src/builder/executor/build.js';
import { localStepCache } from '../../../src/builder/executor/local-cache.js';
import { FILE_DIGESTS_FILE, type StepCacheStore } from '../../../src/builder/cache/local-store.js';
import type { StepCacheOptions } from '../../../src/builder/executor/step-cache.js';
import type { BuildEvent } from '../../../src/builder/events.js';
import { BlobStore } from '../../../src/oci/index.js';
import { makeBusyboxRootfs } from '../../helpers/busybox-rootfs.js';
import { buildOptions, makeContext, tempDir } from '../../helpers/build.js';
import { flatten, readOciLayout, type ReadImage, type TarMember } from '../../helpers/oci-reader.js';
import { scratchTmpdir } from '../../helpers/scratch-tmpdir.js';

const scratch = scratchTmpdir('hoist-cache-tmp-');

interface CachedBuild {
  digest: string;
  image: ReadImage;
  files: Map<string, TarMember>;
  /** Each step after its stage's FROM, as [instruction, cached]. */
  steps: Array<[string, boolean]>;
  events: BuildEvent[];
}

async function cachedBuild(
  dockerfile: string,
  context: string,
  cacheDir: string,
  opts: Partial<Pick<BuildOptions, 'epoch' | 'now' | 'images' | 'secrets'>> & {
    buildArgs?: Record<string, string>;
    noLookups?: boolean;
    noLookupStages?: string[];
    /** Stands between the build and its step cache. */
    wrapCache?: (store: StepCacheStore) => StepCacheStore;
  } = {},
): Promise<CachedBuild> {
  const store = new BlobStore(cacheDir);
  const out = path.join(tempDir('hoist-cache-out-'), 'layout');
  const events: BuildEvent[] = [];
  const result = await build(
    buildOptions(context, dockerfile, store, {
      buildArgs: new Map(Object.entries(opts.buildArgs ?? {})),
      outputs: [{ type: 'oci-layout', dest: out }],
      tags: ['cache:test'],
      epoch: opts.epoch,
      now: opts.now,
      images: opts.images,
      secrets: opts.secrets,
      onEvent: (e) => events.push(e),
      cache: await withWrappedStore(localStepCache(store, { noLookups: opts.noLookups, noLookupStages: opts.noLookupStages }), opts.wrapCache),
    }),
  );
  const image = await readOciLayout(out);
  const steps = result.report.steps.filter((s) => !s.instruction.startsWith('FROM')).map((s): [string, boolean] => [s.instruction, s.cached === true]);
  return { digest: result.digest, image, files: flatten(image.layers), steps, events };
}

/** A step cache in front of `store` that removes the first hit's blob right after its lookup found it, as a prune beside the build would. */
function pruneAfterFirstHit(cacheDir: string): { wrap: (store: StepCacheStore) => StepCacheStore; pruned: () => string | undefined } {
  let pruned: string | undefined;
  const wrap = (store: StepCacheStore): StepCacheStore => ({
    get: async (key) => {
      const record = await store.get(key);
      if (record?.layer !== undefined && pruned === undefined) {
        pruned = record.layer.digest;
        rmSync(path.join(cacheDir, 'blobs', 'sha256', record.layer.digest.slice('sha256:'.length)));
      }
      return record;
    },
    put: (key, record) => store.put(key, record),
    exclusive: (key, fn, signal) => store.exclusive(key, fn, signal),
    retry: () => store.retry?.() ?? false,
  });
  return { wrap, pruned: () => pruned };
}

async function withWrappedStore(cache: Promise<StepCacheOptions>, wrap: ((store: StepCacheStore) => StepCacheStore) | undefined): Promise<StepCacheOptions> {
  const options = await cache;
  return wrap === undefined ? options : { ...options, store: wrap(options.store) };
}

const cachedOf = (b: CachedBuild, instruction: string): boolean => {
  const step = b.steps.find(([i]) => i === instruction);
  if (step === undefined) throw new Error(`no step ${instruction} in ${JSON.stringify(b.steps)}`);
  return step[1];
};
const content = (b: CachedBuild, p: string): string | undefined => b.files.get(p)?.content?.toString();
/** The xattrs of each record of the context file digests (src/builder/cache/file-digests.ts: a line per path, tab-separated, xattrs last). */
function digestRecords(cacheDir: string): Record<string, { xattrs?: Record<string, string> }> {
  const out: Record<string, { xattrs?: Record<string, string> }> = {};
  for (const line of readFileSync(path.join(cacheDir, FILE_DIGESTS_FILE), 'utf8').split('\n').slice(2)) {
    if (line === '') continue;
    const fields = line.split('\t');
    const xattrs = fields[8] as string;
    out[JSON.parse(fields[0] as string) as string] = xattrs === '-' ? {} : { xattrs: JSON.parse(xattrs) as Record<string, string> };
  }
  return out;
}
const records = (cacheDir: string): string[] => readdirSync(path.join(cacheDir, 'steps'), { recursive: true }).map(String).filter((f) => f.endsWith('.json'));

describe('build cache: COPY, ADD and WORKDIR', () => {
  const dockerfile = ['FROM scratch', 'ENV A=1', 'COPY a.txt /a.txt', 'WORKDIR /w', 'COPY app /app', 'LABEL x=y'].join('\n');

  it('a rebuild that changed nothing comes from the cache and gives the same image, without SOURCE_DATE_EPOCH too', async () => {
    const ctx = makeContext({ 'a.txt': 'a', 'app/one': '1', 'app/sub/two': '2' });
    const cache = tempDir('hoist-cache-');
    const first = await cachedBuild(dockerfile, ctx, cache, { now: new Date('2026-01-01T00:00:00Z') });
    expect(first.steps.every(([, c]) => !c)).toBe(true);
    // Only steps that change files are recorded: ENV and LABEL are replayed.
    expect(records(cache)).toHaveLength(3);
    const second = await cachedBuild(dockerfile, ctx, cache, { now: new Date('2026-06-01T00:00:00Z') });
    expect(second.steps).toEqual([['ENV A=1', false], ['COPY a.txt /a.txt', true], ['WORKDIR /w', true], ['COPY app /app', true], ['LABEL x=y', false]]);
    expect(second.digest).toBe(first.digest);
    expect(second.image.config.created).toBe('2026-01-01T00:00:00Z');
    expect(second.events.filter((e) => e.type === 'step-cached')).toHaveLength(3);
    const e1 = await cachedBuild(dockerfile, ctx, cache, { epoch: 1000, now: new Date('2026-02-01T00:00:00Z') });
    const e2 = await cachedBuild(dockerfile, ctx, cache, { epoch: 1000, now: new Date('2026-03-01T00:00:00Z') });
    // SOURCE_DATE_EPOCH clamps layer times: it is part of the key, and the second epoch build hits.
    expect(e1.steps.some(([, c]) => c)).toBe(false);
    expect(e2.steps.filter(([, c]) => c)).toHaveLength(3);
    expect(e2.digest).toBe(e1.digest);
    expect(e2.image.config.created).toBe('1970-01-01T00:16:40Z');
  });

  it('a cached layer removed from the store after its lookup (a prune beside the build): the build starts again, runs that step, and gives the same image', async () => {
    const ctx = makeContext({ 'a.txt': 'a', 'app/one': '1', 'app/sub/two': '2' });
    const cache = tempDir('hoist-cache-');
    const first = await cachedBuild(dockerfile, ctx, cache, { epoch: 1000 });
    const prune = pruneAfterFirstHit(cache);
    const second = await cachedBuild(dockerfile, ctx, cache, { epoch: 1000, wrapCache: prune.wrap });
    const pruned = prune.pruned();
    expect(pruned).toBeDefined();
    expect(second.digest).toBe(first.digest);
    const warnings = second.events.filter((e) => e.type === 'warning' && e.code === 'CACHE_BLOB_GONE');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.type === 'warning' && warnings[0].message).toContain(`blob ${pruned} is not in ${cache} any more`);
    // The report is the last try's: the step whose blob went ran again, the others hit.
    expect(second.steps).toEqual([['ENV A=1', false], ['COPY a.txt /a.txt', false], ['WORKDIR /w', true], ['COPY app /app', true], ['LABEL x=y', false]]);
  });

  it('but not when the image was going to standard output: an archive half written cannot be taken back', async () => {
    const ctx = makeContext({ 'a.txt': 'a', 'app/one': '1', 'app/sub/two': '2' });
    const cache = tempDir('hoist-cache-');
    await cachedBuild(dockerfile, ctx, cache, { epoch: 1000 });
    const store = new BlobStore(cache);
    const prune = pruneAfterFirstHit(cache);
    const events: BuildEvent[] = [];
    const local = await localStepCache(store);
    const stdout = new PassThrough();
    stdout.resume();
    const attempt = build(buildOptions(ctx, dockerfile, store, { outputs: [{ type: 'oci', dest: stdout }], tags: ['cache:test'], epoch: 1000, onEvent: (e) => events.push(e), cache: { ...local, store: prune.wrap(local.store) } }));
    await expect(attempt).rejects.toMatchObject({ code: 'BLOB_NOT_FOUND' });
    expect(prune.pruned()).toBeDefined();
    expect(events.some((e) => e.type === 'warning' && e.code === 'CACHE_BLOB_GONE')).toBe(false);
  });

  it('a build with no step that changes files (ENV, LABEL, CMD only) gives the same image every time: its time is its base\'s', async () => {
    const ctx = makeContext({ 'a.txt': 'a' });
    const cache = tempDir('hoist-cache-');
    const onlyMetadata = 'FROM scratch\nENV A=1\nLABEL x=y\nCMD ["/app"]\n';
    const first = await cachedBuild(onlyMetadata, ctx, cache, { now: new Date('2026-01-01T00:00:00Z') });
    const second = await cachedBuild(onlyMetadata, ctx, cache, { now: new Date('2026-06-01T00:00:00Z') });
    expect(second.digest).toBe(first.digest);
    // FROM scratch carries no time: the Unix epoch, as SOURCE_DATE_EPOCH=0 gives.
    expect(second.image.config.created).toBe('1970-01-01T00:00:00Z');
    expect(second.image.config.history?.every((h: { created?: string }) => h.created === '1970-01-01T00:00:00Z')).toBe(true);
    // Built FROM a stage whose files came from the cache: that stage's time.
    const onStage = 'FROM scratch AS files\nCOPY a.txt /a.txt\nFROM files\nLABEL y=z\n';
    const built = await cachedBuild(onStage, ctx, cache, { now: new Date('2026-02-01T00:00:00Z') });
    const rebuilt = await cachedBuild(onStage, ctx, cache, { now: new Date('2026-07-01T00:00:00Z') });
    expect(rebuilt.digest).toBe(built.digest);
    expect(rebuilt.image.config.created).toBe('2026-02-01T00:00:00Z');
  });

  it('misses on a content change, and every step after it that reads the files misses too', async () => {
    const ctx = makeContext({ 'a.txt': 'a', 'app/one': '1' });
    const cache = tempDir('hoist-cache-');
    await cachedBuild(dockerfile, ctx, cache);
    writeFileSync(path.join(ctx, 'app/one'), 'changed');
    const b = await cachedBuild(dockerfile, ctx, cache);
    expect(cachedOf(b, 'COPY a.txt /a.txt')).toBe(true);
    expect(cachedOf(b, 'COPY app /app')).toBe(false);
    expect(content(b, 'app/one')).toBe('changed');
    writeFileSync(path.join(ctx, 'a.txt'), 'b');
    const c = await cachedBuild(dockerfile, ctx, cache);
    expect(c.steps.filter(([, cached]) => cached)).toEqual([]);
    expect(content(c, 'a.txt')).toBe('b');
  });

  it('a build that fails keeps the steps before the failure: their layers, still compressing when it failed, are recorded', async () => {
    // 24 MiB that gzip cannot shrink: its compression is still running when the next step fails at once.
    const big = Buffer.alloc(24 << 20);
    for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((Math.imul(i + 1, 2654435761) ^ (i >>> 7)) >>> 0, i);
    const ctx = makeContext({ 'a.txt': 'a' });
    writeFileSync(path.join(ctx, 'big.bin'), big);
    const cache = tempDir('hoist-cache-');
    const events: BuildEvent[] = [];
    const store = new BlobStore(cache);
    await expect(
      build(buildOptions(ctx, 'FROM scratch\nCOPY big.bin /big.bin\nCOPY missing.txt /\n', store, { onEvent: (e) => events.push(e), cache: await localStepCache(store) })),
    ).rejects.toThrow(/missing\.txt/);
    // The COPY finished before the failure: it is done (not canceled), and recorded.
    expect(events.filter((e) => e.type === 'step-done').map((e) => e.step)).toContain(2);
    expect(records(cache)).toHaveLength(1);
    const fixed = await cachedBuild('FROM scratch\nCOPY big.bin /big.bin\nCOPY a.txt /\n', ctx, cache);
    expect(fixed.steps).toEqual([
      ['COPY big.bin /big.bin', true],
      ['COPY a.txt /', false],
    ]);
    expect(fixed.files.get('big.bin')?.content?.equals(big)).toBe(true);
  });

  it('records no step whose source changed after its key was made: the layer holds content the key does not describe', async () => {
    const ctx = makeContext({ 'app.txt': 'ORIG' });
    const cache = tempDir('hoist-cache-');
    const store = new BlobStore(cache);
    const local = await localStepCache(store);
    // The lookup right before the step runs is after its key was made: an editor saving there is the race.
    const inner = local.store;
    const racingStore = new Proxy(inner, {
      get: (target, name, receiver) =>
        name === 'get'
          ? (key: Parameters<typeof inner.get>[0]) => {
              writeFileSync(path.join(ctx, 'app.txt'), 'EVIL');
              return target.get(key);
            }
          : (Reflect.get(target, name, receiver) as unknown),
    });
    const racing = { ...local, store: racingStore };
    const events: BuildEvent[] = [];
    await build(buildOptions(ctx, 'FROM scratch\nCOPY app.txt /app.txt\n', store, { onEvent: (e) => events.push(e), cache: racing }));
    expect(events).toContainEqual(expect.objectContaining({ type: 'warning', code: 'SOURCE_CHANGED', message: expect.stringContaining('app.txt changed while the build read it') }));
    expect(records(cache)).toHaveLength(0);
    // Back to the content the key was made from: a build must not be given the layer with EVIL in it.
    writeFileSync(path.join(ctx, 'app.txt'), 'ORIG');
    const again = await cachedBuild('FROM scratch\nCOPY app.txt /app.txt\n', ctx, cache);
    expect(again.steps).toEqual([['COPY app.txt /app.txt', false]]);
    expect(content(again, 'app.txt')).toBe('ORIG');
  });

  it('ADD <url> without --checksum: keyed by what it downloaded and its Last-Modified, one GET per build; the same hits with the same digest, other content or time misses', async () => {
    let body = 'tool v1\n';
    let lastModified = 'Wed, 01 Jan 2025 00:00:00 GMT';
    let gets = 0;
    const server = createServer((_req, res) => {
      gets++;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'last-modified': lastModified });
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/tool.sh`;
      const ctx = makeContext({ 'a.txt': 'a' });
      const cache = tempDir('hoist-cache-');
      const df = `FROM scratch\nADD ${url} /tool.sh\nCOPY a.txt /a.txt\n`;
      const first = await cachedBuild(df, ctx, cache);
      expect(first.steps).toEqual([[`ADD ${url} /tool.sh`, false], ['COPY a.txt /a.txt', false]]);
      expect(gets).toBe(1);
      const again = await cachedBuild(df, ctx, cache);
      expect(again.steps).toEqual([[`ADD ${url} /tool.sh`, true], ['COPY a.txt /a.txt', true]]);
      expect(again.digest).toBe(first.digest);
      expect(gets).toBe(2);
      body = 'tool v2\n';
      const changed = await cachedBuild(df, ctx, cache);
      expect(changed.steps.map(([, c]) => c)).toEqual([false, false]);
      expect(content(changed, 'tool.sh')).toBe('tool v2\n');
      expect(gets).toBe(3);
      // The same content with a new Last-Modified: the file's mtime in the layer differs, so it misses (BuildKit keys it too).
      lastModified = 'Thu, 01 Jan 2026 00:00:00 GMT';
      const touched = await cachedBuild(df, ctx, cache);
      expect(touched.steps.map(([, c]) => c)).toEqual([false, false]);
      expect(touched.files.get('tool.sh')?.mtime).toBe(Date.UTC(2026, 0, 1) / 1000);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('misses on a mode-only change, and a renamed file with equal content', async () => {
    const ctx = makeContext({ 'a.txt': 'a', 'app/one': '1' });
    const cache = tempDir('hoist-cache-');
    await cachedBuild(dockerfile, ctx, cache);
    chmodSync(path.join(ctx, 'app/one'), 0o755);
    const b = await cachedBuild(dockerfile, ctx, cache);
    expect(cachedOf(b, 'COPY app /app')).toBe(false);
    expect((b.files.get('app/one')?.mode ?? 0) & 0o777).toBe(0o755);
    renameSync(path.join(ctx, 'app/one'), path.join(ctx, 'app/uno'));
    const c = await cachedBuild(dockerfile, ctx, cache);
    expect(cachedOf(c, 'COPY app /app')).toBe(false);
    expect(content(c, 'app/uno')).toBe('1');
    expect(c.files.has('app/one')).toBe(false);
  });

  it('a deleted file does not come back (kaniko#704), and a changed .dockerignore misses', async () => {
    const ctx = makeContext({ 'a.txt': 'a', 'app/one': '1', 'app/two': '2' });
    const cache = tempDir('hoist-cache-');
    const first = await cachedBuild(dockerfile, ctx, cache);
    expect(content(first, 'app/two')).toBe('2');
    rmSync(path.join(ctx, 'app/two'));
    const b = await cachedBuild(dockerfile, ctx, cache);
    expect(cachedOf(b, 'COPY app /app')).toBe(false);
    expect(b.files.has('app/two')).toBe(false);
    writeFileSync(path.join(ctx, '.dockerignore'), 'app/one\n');
    const c = await cachedBuild(dockerfile, ctx, cache);
    expect(cachedOf(c, 'COPY a.txt /a.txt')).toBe(true);
    expect(cachedOf(c, 'COPY app /app')).toBe(false);
    expect(c.files.has('app/one')).toBe(false);
    // Back to what the first build saw: its entry serves again.
    rmSync(path.join(ctx, '.dockerignore'));
    writeFileSync(path.join(ctx, 'app/two'), '2');
    const d = await cachedBuild(dockerfile, ctx, cache);
    expect(d.steps.filter(([, cached]) => cached)).toHaveLength(3);
    expect(d.digest).toBe(first.digest);
  });

  it('the context digests file drops the record of a file gone from the context, named through a symlink, and keys all under its real path', async () => {
    const ctx = makeContext({ 'a.txt': 'a', 'app/one': '1', 'app/two': '2' });
    const link = path.join(tempDir('hoist-cache-link-'), 'ctx');
    symlinkSync(ctx, link);
    const cache = tempDir('hoist-cache-');
    await cachedBuild(dockerfile, link, cache);
    const real = realpathSync(ctx);
    expect(Object.keys(digestRecords(cache))).toEqual(expect.arrayContaining([path.join(real, 'app/one'), path.join(real, 'app/two')]));
    rmSync(path.join(ctx, 'app/two'));
    // A file hashed again: the records are written back.
    writeFileSync(path.join(ctx, 'app/one'), 'changed');
    await cachedBuild(dockerfile, link, cache);
    const keys = Object.keys(digestRecords(cache));
    expect(keys).toContain(path.join(real, 'app/one'));
    expect(keys).not.toContain(path.join(real, 'app/two'));
    expect(keys.filter((k) => k !== real && !k.startsWith(`${real}/`))).toEqual([]);
  });

  it('misses when only an extended attribute of a source changed (the copy keeps it)', async () => {
    const ctx = makeContext({ 'a.txt': 'a', 'app/one': '1' });
    const cache = tempDir('hoist-cache-');
    const setfattr = (value: string) => execFileSync('setfattr', ['-h', '-n', 'user.note', '-v', value, path.join(ctx, 'app/one')]);
    setfattr('first');
    await cachedBuild(dockerfile, ctx, cache);
    expect(cachedOf(await cachedBuild(dockerfile, ctx, cache), 'COPY app /app')).toBe(true);
    setfattr('second');
    const b = await cachedBuild(dockerfile, ctx, cache);
    expect(cachedOf(b, 'COPY app /app')).toBe(false);
    expect(b.files.get('app/one')?.pax).toEqual({ 'SCHILY.xattr.user.note': 'second' });
  });

  it('a record older than the racy window answers a file\'s or directory\'s xattrs: a rebuild hits with them in the key (same image); an xattr changed after misses', async () => {
    const ctx = makeContext({ 'a.txt': 'a', 'app/one': '1', 'app/two': '2', 'app/sub/three': '3' });
    const cache = tempDir('hoist-cache-');
    const one = path.join(ctx, 'app/one');
    const sub = path.join(ctx, 'app/sub');
    const setfattr = (value: string, file = one) => execFileSync('setfattr', ['-h', '-n', 'user.note', '-v', value, file]);
    setfattr('first');
    setfattr('dir', sub);
    // Past FileDigests' racy window (2 s) since the files last changed: the first build's records are trusted, and no rebuild reads the xattrs again.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const first = await cachedBuild(dockerfile, ctx, cache);
    const recorded = () => digestRecords(cache);
    expect(recorded()[one]?.xattrs).toEqual({ 'user.note': Buffer.from('first').toString('base64') });
    expect(recorded()[path.join(ctx, 'app/two')]?.xattrs).toEqual({});
    expect(recorded()[sub]?.xattrs).toEqual({ 'user.note': Buffer.from('dir').toString('base64') });

    const second = await cachedBuild(dockerfile, ctx, cache);
    expect(cachedOf(second, 'COPY app /app')).toBe(true);
    expect(second.digest).toBe(first.digest);
    expect(second.files.get('app/one')?.pax).toEqual({ 'SCHILY.xattr.user.note': 'first' });
    expect(second.files.get('app/sub')?.pax).toEqual({ 'SCHILY.xattr.user.note': 'dir' });

    setfattr('second');
    const third = await cachedBuild(dockerfile, ctx, cache);
    expect(cachedOf(third, 'COPY a.txt /a.txt')).toBe(true);
    expect(cachedOf(third, 'COPY app /app')).toBe(false);
    expect(third.files.get('app/one')?.pax).toEqual({ 'SCHILY.xattr.user.note': 'second' });
    expect(recorded()[one]?.xattrs).toEqual({ 'user.note': Buffer.from('second').toString('base64') });

    execFileSync('setfattr', ['-h', '-x', 'user.note', one]);
    const fourth = await cachedBuild(dockerfile, ctx, cache);
    expect(cachedOf(fourth, 'COPY app /app')).toBe(false);
    expect(fourth.files.get('app/one')?.pax ?? {}).toEqual({});

    setfattr('dir changed', sub);
    const fifth = await cachedBuild(dockerfile, ctx, cache);
    expect(cachedOf(fifth, 'COPY app /app')).toBe(false);
    expect(fifth.files.get('app/sub')?.pax).toEqual({ 'SCHILY.xattr.user.note': 'dir changed' });
  });

  it('a rebuild takes a context file\'s xattrs from its trusted record, not from the disk (no llistxattr per file)', async () => {
    const ctx = makeContext({ 'a.txt': 'a', 'app/one': '1' });
    const cache = tempDir('hoist-cache-');
    await cachedBuild(dockerfile, ctx, cache);
    // The record says what the disk does not, and is dated a minute on so that it is trusted at once.
    const file = path.join(cache, FILE_DIGESTS_FILE);
    const lines = readFileSync(file, 'utf8').split('\n');
    const i = lines.findIndex((l) => l.startsWith(`${JSON.stringify(path.join(ctx, 'app/one'))}\t`));
    if (i < 0) throw new Error(`no record of app/one in ${file}`);
    const fields = (lines[i] as string).split('\t');
    fields[6] = String(BigInt(Date.now() + 60_000) * 1_000_000n);
    fields[8] = JSON.stringify({ 'user.note': Buffer.from('from the record').toString('base64') });
    lines[i] = fields.join('\t');
    writeFileSync(file, lines.join('\n'));
    const b = await cachedBuild(dockerfile, ctx, cache);
    expect(cachedOf(b, 'COPY app /app')).toBe(false);
    expect(b.files.get('app/one')?.pax).toEqual({ 'SCHILY.xattr.user.note': 'from the record' });
  });

  it('misses when two equal files become hard links of one another', async () => {
    const ctx = makeContext({ 'a.txt': 'a', 'app/one': 'same', 'app/two': 'same' });
    const cache = tempDir('hoist-cache-');
    await cachedBuild(dockerfile, ctx, cache);
    rmSync(path.join(ctx, 'app/two'));
    linkSync(path.join(ctx, 'app/one'), path.join(ctx, 'app/two'));
    const b = await cachedBuild(dockerfile, ctx, cache);
    expect(cachedOf(b, 'COPY app /app')).toBe(false);
    expect(b.files.get('app/two')).toMatchObject({ type: 'link', linkname: 'app/one' });
  });

  it('owners of context files do not reach the layer (a hit); a changed --chown misses', async () => {
    const ctx = makeContext({ 'a.txt': 'a', 'app/one': '1' });
    const cache = tempDir('hoist-cache-');
    const df = ['FROM scratch', 'ARG OWNER=0:0', 'COPY --chown=$OWNER app /app'].join('\n');
    const first = await cachedBuild(df, ctx, cache);
    if (process.getuid?.() === 0) {
      chownSync(path.join(ctx, 'app/one'), 1234, 1234);
      const b = await cachedBuild(df, ctx, cache);
      expect(cachedOf(b, 'COPY --chown=$OWNER app /app')).toBe(true);
      expect(b.digest).toBe(first.digest);
    }
    const c = await cachedBuild(df, ctx, cache, { buildArgs: { OWNER: '7:8' } });
    expect(cachedOf(c, 'COPY --chown=$OWNER app /app')).toBe(false);
    expect(c.files.get('app/one')).toMatchObject({ uid: 7, gid: 8 });
  });

  it('misses when the COPY --from stage changed (kaniko#589, #1244), with the final stage unchanged', async () => {
    const ctx = makeContext({ 'a.txt': 'a', 'gen.txt': 'v1' });
    const cache = tempDir('hoist-cache-');
    const df = ['FROM scratch AS gen', 'COPY gen.txt /out/gen.txt', 'FROM scratch', 'COPY a.txt /a.txt', 'COPY --from=gen /out /out'].join('\n');
    await cachedBuild(df, ctx, cache);
    const same = await cachedBuild(df, ctx, cache);
    expect(same.steps.every(([, c]) => c)).toBe(true);
    writeFileSync(path.join(ctx, 'gen.txt'), 'v2');
    const b = await cachedBuild(df, ctx, cache);
    expect(cachedOf(b, 'COPY a.txt /a.txt')).toBe(true);
    expect(cachedOf(b, 'COPY --from=gen /out /out')).toBe(false);
    expect(content(b, 'out/gen.txt')).toBe('v2');
  });

  it('--no-cache looks nothing up but still records; --no-cache-filter skips lookups for one stage', async () => {
    const ctx = makeContext({ 'a.txt': 'a', 'gen.txt': 'g' });
    const cache = tempDir('hoist-cache-');
    const df = ['FROM scratch AS gen', 'COPY gen.txt /gen.txt', 'FROM scratch', 'COPY a.txt /a.txt', 'COPY --from=gen /gen.txt /gen.txt'].join('\n');
    const first = await cachedBuild(df, ctx, cache, { noLookups: true });
    expect(first.steps.some(([, c]) => c)).toBe(false);
    const filtered = await cachedBuild(df, ctx, cache, { noLookupStages: ['gen'] });
    expect(filtered.steps).toEqual([['COPY gen.txt /gen.txt', false], ['COPY a.txt /a.txt', true], ['COPY --from=gen /gen.txt /gen.txt', true]]);
    // The same layers; the image's time is this build's, as a step ran.
    expect(filtered.image.config.rootfs.diff_ids).toEqual(first.image.config.rootfs.diff_ids);
  });

  it('ADD of a local archive is keyed by its content', async () => {
    const ctx = makeContext({ 'pkg/x.txt': 'x1' });
    const tarball = () => execFileSync('tar', ['-cf', path.join(ctx, 'pkg.tar'), '-C', path.join(ctx, 'pkg'), 'x.txt']);
    tarball();
    const cache = tempDir('hoist-cache-');
    const df = ['FROM scratch', 'ADD pkg.tar /opt/'].join('\n');
    await cachedBuild(df, ctx, cache);
    expect(cachedOf(await cachedBuild(df, ctx, cache), 'ADD pkg.tar /opt/')).toBe(true);
    writeFileSync(path.join(ctx, 'pkg/x.txt'), 'x2');
    tarball();
    const b = await cachedBuild(df, ctx, cache);
    expect(cachedOf(b, 'ADD pkg.tar /opt/')).toBe(false);
    expect(content(b, 'opt/x.txt')).toBe('x2');
  });

  it('ignores records of another format and damaged ones: they miss, the build still works', async () => {
    const ctx = makeContext({ 'a.txt': 'a', 'app/one': '1' });
    const cache = tempDir('hoist-cache-');
    // SOURCE_DATE_EPOCH: a WORKDIR that runs again makes its directory with the same mtime, whatever the second.
    const first = await cachedBuild(dockerfile, ctx, cache, { epoch: 0 });
    const files = records(cache);
    writeFileSync(path.join(cache, 'steps', files[0] as string), '{"format":"hoist.cache.step-record/v0"}');
    writeFileSync(path.join(cache, 'steps', files[1] as string), '{trunc');
    const b = await cachedBuild(dockerfile, ctx, cache, { epoch: 0 });
    expect(b.steps.filter(([, c]) => c).length).toBeLessThan(3);
    expect(content(b, 'app/one')).toBe('1');
    expect(b.image.config.rootfs.diff_ids).toEqual(first.image.config.rootfs.diff_ids);
  });
});

describe('build cache: RUN', () => {
  let ctx: string;
  beforeAll(async () => {
    ctx = makeContext({ 'note.txt': 'n' });
    await makeBusyboxRootfs(path.join(ctx, 'rootfs'));
  }, 300_000);

  const base = ['FROM scratch AS base', 'COPY rootfs /', 'FROM base'];

  it('hits without running anything or unpacking a rootfs; misses when the environment, an ARG it sees, or a file before it changed', async () => {
    const cache = tempDir('hoist-cache-');
    const df = (env: string) => [...base, 'ARG SEEN=1', `ENV E=${env}`, 'RUN echo "$E $SEEN" > /e.txt', 'RUN rm /bin/vi', 'COPY note.txt /note.txt', 'RUN cat /note.txt > /copy.txt', 'ARG UNSEEN'].join('\n');
    const first = await cachedBuild(df('1'), ctx, cache);
    expect(content(first, 'e.txt')).toBe('1 1\n');
    const again = await cachedBuild(df('1'), ctx, cache, { buildArgs: { UNSEEN: 'x' } });
    // An ARG declared after the step is not in its environment: still a hit.
    expect(again.steps.filter(([i]) => i.startsWith('RUN') || i.startsWith('COPY')).every(([, c]) => c)).toBe(true);
    expect(again.digest).toBe(first.digest);
    // No runner was picked: nothing ran, and no rootfs was unpacked for one.
    expect(again.events.some((e) => e.type === 'note' && e.code === 'RUNNER')).toBe(false);
    // A deletion restored from the cache stays deleted (its whiteout is in the cached layer).
    expect(again.files.has('bin/vi')).toBe(false);
    const seen = await cachedBuild(df('1'), ctx, cache, { buildArgs: { SEEN: '2' } });
    expect(cachedOf(seen, 'RUN echo "$E $SEEN" > /e.txt')).toBe(false);
    expect(content(seen, 'e.txt')).toBe('1 2\n');
    const env = await cachedBuild(df('2'), ctx, cache);
    expect(cachedOf(env, 'COPY rootfs /')).toBe(true);
    expect(cachedOf(env, 'RUN echo "$E $SEEN" > /e.txt')).toBe(false);
    expect(content(env, 'e.txt')).toBe('2 1\n');
    writeFileSync(path.join(ctx, 'note.txt'), 'm');
    try {
      const note = await cachedBuild(df('1'), ctx, cache);
      expect(cachedOf(note, 'RUN rm /bin/vi')).toBe(true);
      expect(cachedOf(note, 'RUN cat /note.txt > /copy.txt')).toBe(false);
      expect(content(note, 'copy.txt')).toBe('m');
    } finally {
      writeFileSync(path.join(ctx, 'note.txt'), 'n');
    }
  }, 300_000);

  it('RUN --mount: a bound file\'s content is in the key; a secret\'s content and a cache\'s content are not', async () => {
    const cache = tempDir('hoist-cache-');
    writeFileSync(path.join(ctx, 'bound.txt'), 'b1');
    const df = [
      ...base,
      'RUN --mount=type=bind,source=bound.txt,target=/mnt/bound.txt cat /mnt/bound.txt > /from-bind',
      'RUN --mount=type=secret,id=tok wc -c < /run/secrets/tok > /secret-size',
      'RUN --mount=type=cache,target=/var/cache/x sh -c "date +%N >> /var/cache/x/log; echo done > /cache-used"',
    ].join('\n');
    const secret = (v: string) => new Map([['tok', { value: Buffer.from(v) }]]);
    try {
      const first = await cachedBuild(df, ctx, cache, { secrets: secret('abc') });
      expect(content(first, 'from-bind')).toBe('b1');
      const again = await cachedBuild(df, ctx, cache, { secrets: secret('another-secret') });
      expect(again.steps.filter(([i]) => i.startsWith('RUN')).map(([, c]) => c)).toEqual([true, true, true]);
      expect(again.digest).toBe(first.digest);
      writeFileSync(path.join(ctx, 'bound.txt'), 'b2');
      const changed = await cachedBuild(df, ctx, cache, { secrets: secret('abc') });
      expect(cachedOf(changed, 'RUN --mount=type=bind,source=bound.txt,target=/mnt/bound.txt cat /mnt/bound.txt > /from-bind')).toBe(false);
      expect(content(changed, 'from-bind')).toBe('b2');
    } finally {
      rmSync(path.join(ctx, 'bound.txt'), { force: true });
    }
  }, 300_000);

  it('RUN --mount from= a stage: keyed by the stage\'s key (as COPY --from), so a rebuild hits and a changed stage misses', async () => {
    const cache = tempDir('hoist-cache-');
    writeFileSync(path.join(ctx, 'made.txt'), 'm1');
    const run = 'RUN --mount=type=bind,from=maker,source=/out,target=/mnt/out cat /mnt/out/made.txt > /from-stage';
    const df = ['FROM scratch AS maker', 'COPY made.txt /out/made.txt', ...base, run].join('\n');
    try {
      const first = await cachedBuild(df, ctx, cache);
      expect(content(first, 'from-stage')).toBe('m1');
      const again = await cachedBuild(df, ctx, cache);
      expect(cachedOf(again, run)).toBe(true);
      expect(again.digest).toBe(first.digest);
      writeFileSync(path.join(ctx, 'made.txt'), 'm2');
      const changed = await cachedBuild(df, ctx, cache);
      expect(cachedOf(changed, run)).toBe(false);
      expect(content(changed, 'from-stage')).toBe('m2');
    } finally {
      rmSync(path.join(ctx, 'made.txt'), { force: true });
    }
  }, 300_000);

  it('RUN --mount: records no step whose bound context file changed after its key was made', async () => {
    const cache = tempDir('hoist-cache-');
    const store = new BlobStore(cache);
    writeFileSync(path.join(ctx, 'raced.txt'), 'ORIG');
    try {
      const local = await localStepCache(store);
      const inner = local.store;
      // Lookups of COPY rootfs's key, then of the RUN's, made by then: an editor saving at the RUN's first is the race.
      const keys: unknown[] = [];
      const racingStore = new Proxy(inner, {
        get: (target, name, receiver) =>
          name === 'get'
            ? (key: Parameters<typeof inner.get>[0]) => {
                if (!keys.includes(key) && keys.push(key) === 2) writeFileSync(path.join(ctx, 'raced.txt'), 'EVIL');
                return target.get(key);
              }
            : (Reflect.get(target, name, receiver) as unknown),
      });
      const df = [...base, 'RUN --mount=type=bind,source=raced.txt,target=/mnt/r cat /mnt/r > /seen'].join('\n');
      const events: BuildEvent[] = [];
      const out = path.join(tempDir('hoist-cache-out-'), 'layout');
      await build(buildOptions(ctx, df, store, { onEvent: (e) => events.push(e), cache: { ...local, store: racingStore }, outputs: [{ type: 'oci-layout', dest: out }], tags: ['cache:test'] }));
      expect(keys).toHaveLength(2);
      expect(events).toContainEqual(expect.objectContaining({ type: 'warning', code: 'SOURCE_CHANGED', message: expect.stringContaining('raced.txt changed while the build read it') }));
      // Only COPY rootfs was recorded: the RUN's layer holds EVIL under ORIG's key.
      expect(records(cache)).toHaveLength(1);
      writeFileSync(path.join(ctx, 'raced.txt'), 'ORIG');
      const again = await cachedBuild(df, ctx, cache);
      expect(cachedOf(again, 'RUN --mount=type=bind,source=raced.txt,target=/mnt/r cat /mnt/r > /seen')).toBe(false);
      expect(content(again, 'seen')).toBe('ORIG');
    } finally {
      rmSync(path.join(ctx, 'raced.txt'), { force: true });
    }
  }, 300_000);

  it('a RUN after a hit runs on the restored files', async () => {
    const cache = tempDir('hoist-cache-');
    await cachedBuild([...base, 'RUN echo one > /one', 'RUN echo two > /two'].join('\n'), ctx, cache);
    const b = await cachedBuild([...base, 'RUN echo one > /one', 'RUN cat /one > /three'].join('\n'), ctx, cache);
    expect(cachedOf(b, 'RUN echo one > /one')).toBe(true);
    expect(cachedOf(b, 'RUN cat /one > /three')).toBe(false);
    expect(content(b, 'three')).toBe('one\n');
  }, 300_000);

  it('a hit after a step that ran is applied to the stage\'s rootfs, and a RUN after it sees its files', async () => {
    const cache = tempDir('hoist-cache-');
    const df = (last: string) => [...base, 'RUN echo one > /one', 'RUN cat /one > /two', 'RUN cat /two > /three', `RUN cat /three > /${last}`].join('\n');
    await cachedBuild(df('four'), ctx, cache, { epoch: 0 });
    // The record of the second RUN goes: it runs again, makes the same layer (SOURCE_DATE_EPOCH), and the third RUN hits on a rootfs.
    for (const f of records(cache)) {
      const file = path.join(cache, 'steps', f);
      if ((JSON.parse(readFileSync(file, 'utf8')) as { createdBy: string }).createdBy.includes('cat /one > /two')) rmSync(file);
    }
    const b = await cachedBuild(df('five'), ctx, cache, { epoch: 0 });
    expect(b.steps.filter(([i]) => i.startsWith('RUN')).map(([, c]) => c)).toEqual([true, false, true, false]);
    expect(content(b, 'five')).toBe('one\n');
  }, 300_000);

  it('a COPY that ran before a RUN that hits: the rootfs unpacked ahead for the RUN is not used, and nothing of it is left', async () => {
    const cache = tempDir('hoist-cache-');
    const df = ['FROM scratch', 'COPY rootfs /', 'COPY note.txt /note.txt', 'RUN cat /note.txt > /copy.txt'].join('\n');
    const first = await cachedBuild(df, ctx, cache, { epoch: 0 });
    // The COPY's record goes: it runs again and makes the same layer, the RUN after it hits.
    for (const f of records(cache)) {
      const file = path.join(cache, 'steps', f);
      if ((JSON.parse(readFileSync(file, 'utf8')) as { createdBy: string }).createdBy.includes('note.txt /note.txt')) rmSync(file);
    }
    const b = await cachedBuild(df, ctx, cache, { epoch: 0 });
    expect(b.steps.map(([, c]) => c)).toEqual([true, false, true]);
    expect(b.digest).toBe(first.digest);
    // The unpack that started after the COPY finished, and went with the build's scratch space.
    expect(b.events.some((e) => e.type === 'rootfs')).toBe(false);
    expect(readdirSync(scratch.dir).filter((n) => n.startsWith('hoist-build-'))).toEqual([]);
  }, 300_000);

  it('a step that ran again and made something else leads the steps on it to miss (the chain follows content)', async () => {
    const cache = tempDir('hoist-cache-');
    // Random bytes, not the time: busybox's date may lack %N, and two runs in one second would make the same layer.
    const df = [...base, 'RUN od -An -N16 -tx1 /dev/urandom > /stamp', 'FROM scratch', 'COPY --from=1 /stamp /stamp'].join('\n');
    const first = await cachedBuild(df, ctx, cache);
    const again = await cachedBuild(df, ctx, cache);
    expect(again.steps.every(([, c]) => c)).toBe(true);
    const rerun = await cachedBuild(df, ctx, cache, { noLookupStages: ['1'] });
    expect(cachedOf(rerun, 'RUN od -An -N16 -tx1 /dev/urandom > /stamp')).toBe(false);
    expect(cachedOf(rerun, 'COPY --from=1 /stamp /stamp')).toBe(false);
    expect(content(rerun, 'stamp')).not.toBe(content(first, 'stamp'));
  }, 300_000);

  it('two builds at once on one cache dir build each step once and agree', async () => {
    const cache = tempDir('hoist-cache-');
    const df = [...base, 'RUN sleep 1; date +%s%N > /stamp', 'RUN cat /stamp > /stamp2'].join('\n');
    const [a, b] = await Promise.all([cachedBuild(df, ctx, cache), cachedBuild(df, ctx, cache)]);
    const ran = (x: CachedBuild) => x.steps.filter(([i, c]) => i.startsWith('RUN') && !c).length;
    // One of them built the RUN steps; the other waited for each key and took its record.
    expect(ran(a) + ran(b)).toBe(2);
    expect(a.digest).toBe(b.digest);
    expect(content(a, 'stamp')).toBe(content(b, 'stamp'));
    for (const f of records(cache)) expect(JSON.parse(readFileSync(path.join(cache, 'steps', f), 'utf8')).format).toBe('hoist.cache.step-record/v1');
    expect(readdirSync(path.join(cache, 'steps'), { recursive: true }).map(String).filter((f) => /\.lock$|\.tmp-/.test(f))).toEqual([]);
  }, 300_000);
});
