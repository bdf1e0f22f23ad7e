import { mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalStepCache, type StepRecord } from '../../../../src/builder/cache/local-store.js';
import type { Digest } from '../../../../src/oci/digest.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'hoist-step-cache-'));
});
afterEach(async () => rm(root, { recursive: true, force: true }));

const key = (c: string): Digest => `sha256:${c.repeat(64)}`;
const layer = { digest: key('d'), diffId: key('e'), size: 123, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' };

function blobs(present: Digest[]) {
  return { has: async (d: Digest) => present.includes(d) };
}

describe('LocalStepCache', () => {
  it('gives back what was put, under the key, and misses other keys', async () => {
    const cache = new LocalStepCache(root, blobs([layer.digest]));
    const record: StepRecord = { layer, created: '2026-12-03T00:00:00Z', createdBy: 'RUN x' };
    await cache.put(key('a'), record);
    expect(await cache.get(key('a'))).toEqual(record);
    expect(await cache.get(key('b'))).toBeUndefined();
    await cache.put(key('c'), { created: '2026-12-03T00:00:00Z', createdBy: 'RUN x' });
    expect(await cache.get(key('c'))).toEqual({ created: '2026-12-03T00:00:00Z', createdBy: 'RUN x' });
  });

  it('misses when the layer blob on disk has another size than the record says (truncated)', async () => {
    const sized = (size: number) => ({ has: async () => true, size: async () => size });
    await new LocalStepCache(root, sized(123)).put(key('a'), { layer, created: 'x', createdBy: 'RUN x' });
    expect(await new LocalStepCache(root, sized(123)).get(key('a'))).toMatchObject({ layer });
    expect(await new LocalStepCache(root, sized(10)).get(key('a'))).toBeUndefined();
  });

  it('misses when the layer blob is no longer in the store', async () => {
    const cache = new LocalStepCache(root, blobs([]));
    await cache.put(key('a'), { layer, created: 'x', createdBy: 'RUN x' });
    expect(await cache.get(key('a'))).toBeUndefined();
  });

  it('misses on a record of another format or a damaged one, and leaves no temp file behind', async () => {
    const cache = new LocalStepCache(root, blobs([layer.digest]));
    await cache.put(key('a'), { layer, created: 'x', createdBy: 'RUN x' });
    const dir = path.join(cache.dir, 'aa');
    expect(await readdir(dir)).toEqual([`${'a'.repeat(64)}.json`]);
    const file = path.join(dir, `${'a'.repeat(64)}.json`);
    await writeFile(file, JSON.stringify({ format: 'hoist.cache.step-record/v99', created: 'x', createdBy: 'RUN x' }));
    expect(await cache.get(key('a'))).toBeUndefined();
    await writeFile(file, '{"format":"hoist.cache.step-record/v1","created":"x","createdBy":"RUN x","layer":{"digest":"nope"}}');
    expect(await cache.get(key('a'))).toBeUndefined();
    await writeFile(file, '{trunc');
    expect(await cache.get(key('a'))).toBeUndefined();
  });

  it('marks a record used when it hits', async () => {
    const cache = new LocalStepCache(root, blobs([layer.digest]));
    await cache.put(key('a'), { layer, created: 'x', createdBy: 'RUN x' });
    const file = path.join(cache.dir, 'aa', `${'a'.repeat(64)}.json`);
    const old = new Date(Date.now() - 86_400_000);
    await utimes(file, old, old);
    await cache.get(key('a'));
    expect((await stat(file)).mtimeMs).toBeGreaterThan(old.getTime() + 3_600_000);
  });
});
