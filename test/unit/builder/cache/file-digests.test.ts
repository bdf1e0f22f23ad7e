import { createHash } from 'node:crypto';
import { lstatSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileDigests, type WalkedFile } from '../../../../src/builder/cache/file-digests.js';
import { writeXattrsSync } from '../../../../snapshot/xattrs.js';

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

/** Changes the fields (tab-separated, the path first) of the record line of `p` in the stored file. */
async function editLine(store: string, p: string, edit: (fields: string[]) => void): Promise<void> {
  const lines = readFileSync(store, 'utf8').split('\n');
  const i = lines.findIndex((l) => l.startsWith(`${JSON.stringify(p)}\t`));
  if (i < 0) throw new Error(`no record of ${p} in ${store}`);
  const fields = (lines[i] as string).split('\t');
  edit(fields);
  lines[i] = fields.join('\t');
  await writeFile(store, lines.join('\n'));
}

describe('FileDigests: the xattrs the context walk gave a file', () => {
  /** What the walk hands over: the file's lstat now, the walk started at `sinceNs` (the system clock's now). */
  const walked = (file: string, xattrs: WalkedFile['xattrs'], sinceNs = BigInt(Date.now()) * 1_000_000n): WalkedFile => ({ stat: lstatSync(file, { bigint: true }), sinceNs, xattrs });
  const note = (v: string) => ({ 'user.note': Buffer.from(v) });

  it('keeps them with the digest, across a save and a load, and answers them while the stat holds', async () => {
    const f = path.join(dir, 'a');
    await writeFile(f, 'hello');
    await aged(f);
    const store = path.join(dir, 'cache', 'digests.json');
    const first = await FileDigests.load(store, later, 'reader');
    expect(first.recordedXattrs(f, lstatSync(f, { bigint: true }))).toBeUndefined();
    expect(await first.digest(f, walked(f, note('one')))).toBe(sha('hello'));
    await first.save();
    const none = path.join(dir, 'none');
    await writeFile(none, 'x');
    await aged(none);

    const second = await FileDigests.load(store, later, 'reader');
    expect(second.recordedXattrs(f, lstatSync(f, { bigint: true }))).toEqual({ xattrs: note('one') });
    await second.digest(none, walked(none, undefined));
    // Known to have none: not the same as not known.
    expect(second.recordedXattrs(none, lstatSync(none, { bigint: true }))).toEqual({ xattrs: undefined });
    expect(await second.digest(f, walked(f, note('one')))).toBe(sha('hello'));
    expect(second.counts).toEqual({ reused: 1, hashed: 1 });
  });

  it('answers nothing once an xattr changed: the ctime moved, even with mtime and size as they were', async () => {
    const f = path.join(dir, 'a');
    await writeFile(f, 'hello');
    await aged(f);
    const digests = await FileDigests.load(undefined, later, 'reader');
    await digests.digest(f, walked(f, note('one')));
    const before = lstatSync(f, { bigint: true });
    expect(digests.recordedXattrs(f, before)).toEqual({ xattrs: note('one') });
    await new Promise((r) => setTimeout(r, 20));
    expect(writeXattrsSync(f, note('two'))).toEqual([]);
    const after = lstatSync(f, { bigint: true });
    expect(after.mtimeNs).toBe(before.mtimeNs);
    expect(digests.recordedXattrs(f, after)).toBeUndefined();
  });

  it('dates a record no later than the walk: a file changed within the racy window before the walk is not answered for', async () => {
    const f = path.join(dir, 'a');
    await writeFile(f, 'hello'); // ctime is now
    const digests = await FileDigests.load(undefined, later, 'reader');
    // The walk started a minute ago: on the digests' clock (a minute ahead) that is now, when the file was just written.
    await digests.digest(f, walked(f, note('one'), BigInt(Date.now() - 60_000) * 1_000_000n));
    expect(digests.recordedXattrs(f, lstatSync(f, { bigint: true }))).toBeUndefined();
    await digests.digest(f, walked(f, note('one')));
    expect(digests.counts).toEqual({ reused: 0, hashed: 2 });
  });

  it('records nothing when the file changed between the walk\'s lstat and the hash', async () => {
    const f = path.join(dir, 'a');
    await writeFile(f, 'hello');
    await aged(f);
    const seen = walked(f, undefined);
    await writeFile(f, 'world');
    await aged(f);
    const digests = await FileDigests.load(undefined, later, 'reader');
    expect(await digests.digest(f, seen)).toBe(sha('world'));
    expect(digests.recordedXattrs(f, lstatSync(f, { bigint: true }))).toBeUndefined();
    expect(await digests.digest(f, walked(f, undefined))).toBe(sha('world'));
    expect(digests.counts.hashed).toBe(2);
  });

  it('reads a v1 file (no xattrs) cleanly: its digests serve, and the xattrs the walk read join them', async () => {
    const f = path.join(dir, 'a');
    await writeFile(f, 'hello');
    await aged(f);
    const store = path.join(dir, 'digests.json');
    const st = lstatSync(f, { bigint: true });
    const v1Record = { dev: String(st.dev), ino: String(st.ino), size: String(st.size), mtimeNs: String(st.mtimeNs), ctimeNs: String(st.ctimeNs), takenNs: String(later()), digest: sha('hello') };
    await writeFile(store, JSON.stringify({ format: 'hoist.cache.file-digests/v1', records: { [f]: v1Record } }));

    const v1 = await FileDigests.load(store, later, 'reader');
    expect(v1.recordedXattrs(f, lstatSync(f, { bigint: true }))).toBeUndefined();
    expect(await v1.digest(f, walked(f, note('one')))).toBe(sha('hello'));
    expect(v1.counts).toEqual({ reused: 1, hashed: 0 });
    await v1.save();
    const again = await FileDigests.load(store, later, 'reader');
    expect(again.recordedXattrs(f, lstatSync(f, { bigint: true }))).toEqual({ xattrs: note('one') });
    expect(readFileSync(store, 'utf8').split('\n')[0]).toBe('hoist.cache.file-digests/v2');
  });

  it('forgets xattrs another reader recorded (what it could list may differ), and damaged ones; the digests still serve', async () => {
    const f = path.join(dir, 'a');
    await writeFile(f, 'hello');
    await aged(f);
    const store = path.join(dir, 'digests.json');
    const first = await FileDigests.load(store, later, 'root with CAP_SYS_ADMIN');
    await first.digest(f, walked(f, { 'trusted.x': Buffer.from('1') }));
    await first.save();
    const other = await FileDigests.load(store, later, 'an unprivileged user');
    expect(other.recordedXattrs(f, lstatSync(f, { bigint: true }))).toBeUndefined();
    expect(await other.digest(f)).toBe(sha('hello'));
    expect(other.counts).toEqual({ reused: 1, hashed: 0 });

    await editLine(store, f, (fields) => (fields[8] = JSON.stringify(['not', 'a', 'map'])));
    const damaged = await FileDigests.load(store, later, 'root with CAP_SYS_ADMIN');
    expect(damaged.recordedXattrs(f, lstatSync(f, { bigint: true }))).toBeUndefined();
    expect(await damaged.digest(f)).toBe(sha('hello'));
    await editLine(store, f, (fields) => (fields[6] = 'soon'));
    const badTime = await FileDigests.load(store, later, 'root with CAP_SYS_ADMIN');
    expect(await badTime.digest(f)).toBe(sha('hello'));
    expect(badTime.counts).toEqual({ reused: 0, hashed: 1 });
  });

  it('a path with a tab, a newline, a quote or a backslash in it is stored and found again', async () => {
    const f = path.join(dir, 'a\tb\nc"d\\e');
    await writeFile(f, 'odd');
    await aged(f);
    const store = path.join(dir, 'digests.json');
    const first = await FileDigests.load(store, later, 'reader');
    await first.digest(f, walked(f, note('odd')));
    await first.save();
    const second = await FileDigests.load(store, later, 'reader');
    expect(second.recordedXattrs(f, lstatSync(f, { bigint: true }))).toEqual({ xattrs: note('odd') });
    expect(await second.digest(f)).toBe(sha('odd'));
    expect(second.counts).toEqual({ reused: 1, hashed: 0 });
  });

  it('keeps a directory\'s xattrs alone (no digest), and a file later at its path is hashed', async () => {
    const d = path.join(dir, 'd');
    await mkdir(d);
    await aged(d);
    const store = path.join(dir, 'digests.json');
    const first = await FileDigests.load(store, later, 'reader');
    first.recordXattrs(d, walked(d, note('dir')));
    await first.save();
    const second = await FileDigests.load(store, later, 'reader');
    expect(second.recordedXattrs(d, lstatSync(d, { bigint: true }))).toEqual({ xattrs: note('dir') });
    await rm(d, { recursive: true });
    await writeFile(d, 'now a file');
    expect(await second.digest(d)).toBe(sha('now a file'));
    expect(second.counts).toEqual({ reused: 0, hashed: 1 });
  });

  describe('saved after a build of a context', () => {
    /** Files under `root`, aged, each hashed by one FileDigests saved to `store`. */
    async function hashedFiles(store: string, files: string[]): Promise<void> {
      const digests = await FileDigests.load(store, later);
      for (const f of files) {
        await mkdir(path.dirname(f), { recursive: true });
        await writeFile(f, f);
        await aged(f);
        await digests.digest(f);
      }
      await digests.save();
    }

    /** The paths the stored file has records for. */
    function storedPaths(store: string): string[] {
      return readFileSync(store, 'utf8').split('\n').slice(2).filter((l) => l !== '').map((l) => JSON.parse(l.slice(0, l.indexOf('\t'))) as string).sort();
    }

    it('drops the records of its files that are gone, keeps those not looked up that are there, and other contexts\' records', async () => {
      const store = path.join(dir, 'cache', 'digests');
      const ctx = path.join(dir, 'ctx');
      const [kept, untouched, gone, goneDir, other] = [path.join(ctx, 'kept'), path.join(ctx, 'untouched'), path.join(ctx, 'gone'), path.join(ctx, 'd/inner'), path.join(dir, 'other-ctx/f')];
      await hashedFiles(store, [kept, untouched, gone, goneDir, other]);
      await rm(gone);
      await rm(path.join(ctx, 'd'), { recursive: true });
      await rm(path.dirname(other), { recursive: true });
      const next = await FileDigests.load(store, later);
      await writeFile(kept, 'changed');
      await next.digest(kept);
      await next.save({ context: ctx });
      expect(storedPaths(store)).toEqual([kept, other, untouched].sort());
    });

    it('keeps nothing of a transient context (an unpacked archive, a clone), and what it has of others', async () => {
      const store = path.join(dir, 'cache', 'digests');
      const ctx = path.join(dir, 'clone');
      const other = path.join(dir, 'other-ctx/f');
      await hashedFiles(store, [other]);
      const next = await FileDigests.load(store, later);
      for (const f of [path.join(ctx, 'a'), path.join(ctx, 'sub/b')]) {
        await mkdir(path.dirname(f), { recursive: true });
        await writeFile(f, 'x');
        await next.digest(f);
      }
      await next.save({ context: ctx, transientContext: true });
      expect(storedPaths(store)).toEqual([other]);
    });

    it('drops records under relative paths (made before records were kept under the context\'s real path)', async () => {
      const store = path.join(dir, 'cache', 'digests');
      const ctx = path.join(dir, 'ctx');
      const kept = path.join(ctx, 'kept');
      await hashedFiles(store, [kept]);
      const next = await FileDigests.load(store, later);
      await next.digest(path.relative(process.cwd(), kept));
      await next.save({ context: ctx });
      expect(storedPaths(store)).toEqual([kept]);
    });

    it('finds the records under the context\'s real path when it is named through a symlink', async () => {
      const store = path.join(dir, 'cache', 'digests');
      const real = path.join(dir, 'real-ctx');
      await hashedFiles(store, [path.join(real, 'gone'), path.join(real, 'stays')]);
      await rm(path.join(real, 'gone'));
      await symlink(real, path.join(dir, 'link-ctx'));
      const next = await FileDigests.load(store, later);
      await writeFile(path.join(real, 'new'), 'n');
      await next.digest(path.join(real, 'new'));
      await next.save({ context: path.join(dir, 'link-ctx') });
      expect(storedPaths(store)).toEqual([path.join(real, 'new'), path.join(real, 'stays')]);
    });
  });
});

