import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { tarChunks, TarError, TarWriter, type TarMemberInput } from '../../../src/tar/index.js';
import { collect, readAll, run, useTempDirs } from './fixtures.js';

const tempDir = useTempDirs();

describe('tarChunks', () => {
  it('opens content only when it reaches the member, and passes large chunks through uncopied', async () => {
    const opened: string[] = [];
    const big = Buffer.alloc(200 * 1024, 9);
    const members: TarMemberInput[] = ['a', 'b'].map((name) => ({
      header: { name, type: 'file', mode: 0o644, uid: 0, gid: 0, size: big.length, mtime: 0 },
      open: () => {
        opened.push(name);
        return [big];
      },
    }));
    const chunks: Buffer[] = [];
    const gen = tarChunks(members);
    const first = await gen.next();
    chunks.push(first.value as Buffer);
    expect(opened).toEqual(['a']);
    for await (const c of gen) chunks.push(c);
    expect(opened).toEqual(['a', 'b']);
    expect(chunks.filter((c) => c === big)).toHaveLength(2);
    expect(chunks.every((c) => c === big || c.length <= 64 * 1024)).toBe(true);
    const got = await readAll(Readable.from(chunks));
    expect(got.map((m) => [m.header.name, m.content.equals(big)])).toEqual([
      ['a', true],
      ['b', true],
    ]);
  });

  it('fails with a size-mismatch TarError when content is shorter or longer than announced, and stops the source', async () => {
    for (const [size, data] of [
      [4, 'abc'],
      [2, 'abcdef'],
    ] as const) {
      const source = Readable.from([Buffer.from(data)]);
      const members: TarMemberInput[] = [{ header: { name: 'f', type: 'file', mode: 0o644, uid: 0, gid: 0, size, mtime: 0 }, open: () => source }];
      await expect(collect(tarChunks(members))).rejects.toMatchObject({ kind: 'size-mismatch', message: expect.stringMatching(/^f: the header says/) });
      expect(source.destroyed).toBe(true);
      const listed: TarMemberInput[] = [{ header: { name: 'f', type: 'file', mode: 0o644, uid: 0, gid: 0, size, mtime: 0 }, open: () => [Buffer.from(data)] }];
      await expect(collect(tarChunks(listed))).rejects.toMatchObject({ kind: 'size-mismatch', message: expect.stringMatching(/^f: the header says/) });
    }
  });

  it('writes the same bytes for content given as a list of buffers as for a stream of them', async () => {
    // Sizes around the 16 KiB pass-through and the 64 KiB chunk, so that merges, flushes and pass-throughs all happen.
    const sizes = [0, 1, 511, 512, 513, 16 * 1024 - 1, 16 * 1024, 40 * 1024, 64 * 1024, 70 * 1024, 3, 200 * 1024, 5];
    const content = sizes.map((n, i) => Buffer.alloc(n, i + 1));
    const members = (asList: boolean): TarMemberInput[] =>
      content.map((data, i) => ({
        header: { name: `f${i}`, type: 'file', mode: 0o644, uid: 0, gid: 0, size: data.length, mtime: 0 },
        open: () => (asList ? [data.subarray(0, 7), data.subarray(7)] : Readable.from([data.subarray(0, 7), data.subarray(7)])),
      }));
    const listed = await collect(tarChunks(members(true)));
    expect(listed.equals(await collect(tarChunks(members(false))))).toBe(true);
    const got = await readAll(Readable.from([listed]));
    expect(got.map((m) => m.content.length)).toEqual(sizes);
    expect(got.every((m, i) => m.content.equals(content[i] as Buffer))).toBe(true);
  });
});

describe('TarWriter', () => {
  it('writes deterministic members that GNU tar lists as root-owned, at the epoch', async () => {
    const writer = new TarWriter();
    const out = collect(writer.output);
    await writer.directory('blobs');
    await writer.file('blobs/a.json', Buffer.from('{}'));
    await writer.symlink('link', 'blobs/a.json');
    await writer.stream('blobs/s', 5, Readable.from([Buffer.from('12'), Buffer.from('345')]));
    writer.finish();
    const tar = await out;
    const dir = await tempDir();
    await writeFile(join(dir, 'a.tar'), tar);
    const { stdout } = await run('tar', ['--numeric-owner', '--full-time', '-tvf', join(dir, 'a.tar')]);
    expect(stdout.trimEnd().split('\n')).toEqual([
      'drwxr-xr-x 0/0               0 1970-01-01 00:00:00 blobs/',
      '-rw-r--r-- 0/0               2 1970-01-01 00:00:00 blobs/a.json',
      'lrwxrwxrwx 0/0               0 1970-01-01 00:00:00 link -> blobs/a.json',
      '-rw-r--r-- 0/0               5 1970-01-01 00:00:00 blobs/s',
    ]);
    expect(tar.length % 512).toBe(0);
  });

  it('waits for the reader (backpressure) instead of buffering a large member', async () => {
    const writer = new TarWriter();
    const size = 8 * 1024 * 1024;
    let done = false;
    const writing = writer.stream('big', size, Readable.from((function* () {
      for (let i = 0; i < size / 65536; i++) yield Buffer.alloc(65536);
    })())).then(() => {
      done = true;
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(done).toBe(false);
    expect(writer.output.readableLength).toBeLessThan(1024 * 1024);
    writer.output.resume();
    await writing;
    expect(done).toBe(true);
  });

  it('fails the output when a member has the wrong size', async () => {
    const writer = new TarWriter();
    const out = collect(writer.output);
    await expect(writer.stream('f', 10, Readable.from([Buffer.from('short')]))).rejects.toBeInstanceOf(TarError);
    await expect(out).rejects.toBeInstanceOf(TarError);
    await expect(writer.file('after', Buffer.from('x'))).rejects.toThrow();
  });
});
