import { createHash } from 'node:crypto';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileDigests } from '../../../../src/builder/cache/file-digests.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'hoist-file-digests-'));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

const sha = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;
/** A clock far enough after the files' mtimes that records are trusted. */
const later = () => BigInt(Date.now() + 60_000) * 1_000_000n;

/** Set mtime to an hour ago, so only the clock decides raciness. */
async function aged(file: string): Promise<void> {
  const t = Date.now() / 1000 - 3600;
  await utimes(file, t, t);
}

describe('FileDigests', () => {
  it('hashes a file once and reuses the digest while its stat is unchanged, across a save and a load', async () => {
    const f = path.join(dir, 'a');
    await writeFile(f, 'hello');
    await aged(f);
    const store = path.join(dir, 'cache', 'digests.json');
    const first = await FileDigests.load(store, later);
    expect(await first.digest(f)).toBe(sha('hello'));
    expect(await first.digest(f)).toBe(sha('hello'));
    expect(first.counts).toEqual({ reused: 1, hashed: 1 });
    await first.save();

    const second = await FileDigests.load(store, later);
    expect(await second.digest(f)).toBe(sha('hello'));
    expect(second.counts).toEqual({ reused: 1, hashed: 0 });
  });

  it('hashes again when the content changed, even with the same size and mtime restored', async () => {
    const f = path.join(dir, 'a');
    await writeFile(f, 'one');
    await aged(f);
    const digests = await FileDigests.load(undefined, later);
    expect(await digests.digest(f)).toBe(sha('one'));
    await writeFile(f, 'two');
    await aged(f); // same size, same mtime as before: the ctime still moved
    expect(await digests.digest(f)).toBe(sha('two'));
    expect(digests.counts.hashed).toBe(2);
  });

  it('does not trust a record taken in the same instant the file was written (racily clean)', async () => {
    const f = path.join(dir, 'a');
    await writeFile(f, 'x');
    const now = () => BigInt(Date.now()) * 1_000_000n;
    const digests = await FileDigests.load(undefined, now);
    await digests.digest(f);
    await digests.digest(f);
    expect(digests.counts).toEqual({ reused: 0, hashed: 2 });
  });

  it('ignores a records file of another format or that is not JSON', async () => {
    const store = path.join(dir, 'digests.json');
    const f = path.join(dir, 'a');
    await writeFile(f, 'x');
    await aged(f);
    await writeFile(store, JSON.stringify({ format: 'something/v9', records: { [f]: { digest: sha('wrong') } } }));
    const digests = await FileDigests.load(store, later);
    expect(await digests.digest(f)).toBe(sha('x'));
    await writeFile(store, '{not json');
    expect(await (await FileDigests.load(store, later)).digest(f)).toBe(sha('x'));
  });
});
