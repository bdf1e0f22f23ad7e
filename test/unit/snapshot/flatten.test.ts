import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { flattenLayers } from '../../../snapshot/flatten.js';
import { readTar as readTarEntries, tarChunks } from '../../../src/tar/index.js';
import { readTar } from '../../helpers/oci-reader.js';

type Spec = { name: string; type?: 'file' | 'directory' | 'symlink' | 'link'; content?: string; linkname?: string; mode?: number };

async function tarOf(specs: Spec[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((r) => pack.on('end', () => r()));
  for (const s of specs) {
    const type = s.type ?? 'file';
    await new Promise<void>((resolve, reject) =>
      type === 'file'
        ? pack.entry({ name: s.name, type, mode: s.mode ?? 0o644 }, s.content ?? '', (err) => (err ? reject(err) : resolve()))
        : pack.entry({ name: s.name, type, mode: s.mode ?? (type === 'directory' ? 0o755 : 0o644), linkname: s.linkname }, (err) => (err ? reject(err) : resolve())),
    );
  }
  pack.finalize();
  await ended;
  return Buffer.concat(chunks);
}

async function flatten(layers: Buffer[]): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await flattenLayers(layers.map((l) => async () => Readable.from([l])), out);
  return Buffer.concat(chunks);
}

describe('flattenLayers (hoist export)', () => {
  it('applies whiteouts, opaque directories and overrides, and writes no markers', async () => {
    const lower = await tarOf([
      { name: 'a/', type: 'directory' }, { name: 'a/f1', content: 'f1' }, { name: 'a/f2', content: 'f2' },
      { name: 'b/', type: 'directory' }, { name: 'b/x', content: 'x' },
      { name: 'c', content: 'old' },
      { name: 'd/', type: 'directory', mode: 0o700 }, { name: 'd/y', content: 'y' },
    ]);
    const upper = await tarOf([
      { name: 'a/.wh.f1' }, { name: '.wh.b' },
      { name: 'c', content: 'new' },
      { name: 'd/', type: 'directory', mode: 0o750 }, { name: 'd/.wh..wh..opq' }, { name: 'd/z', content: 'z' },
      { name: 'h', type: 'link', linkname: 'a/f2' },
    ]);
    const members = await readTar(await flatten([lower, upper]));
    const names = members.map((m) => m.name.replace(/\/$/, ''));
    expect(names.sort()).toEqual(['a', 'a/f2', 'c', 'd', 'd/z', 'h']);
    expect(members.find((m) => m.name === 'c')?.content.toString()).toBe('new');
    expect(members.find((m) => m.name.startsWith('d/') && m.type === 'directory')?.mode).toBe(0o750);
    // The held-back hard link comes after its target, so tar can extract it.
    expect(names.indexOf('h')).toBeGreaterThan(names.indexOf('a/f2'));
    const dir = mkdtempSync(path.join(tmpdir(), 'hoist-flat-'));
    writeFileSync(path.join(dir, 'out.tar'), await flatten([lower, upper]));
    execFileSync('tar', ['-xf', 'out.tar'], { cwd: dir });
    expect(readFileSync(path.join(dir, 'h'), 'utf8')).toBe('f2');
    expect(statSync(path.join(dir, 'h')).ino).toBe(statSync(path.join(dir, 'a/f2')).ino);
  });

  it('a whiteout hides only lower layers, not what its own layer adds later', async () => {
    const lower = await tarOf([{ name: 'x', content: 'lower' }]);
    const upper = await tarOf([{ name: '.wh.x' }]);
    const top = await tarOf([{ name: 'x', content: 'top' }]);
    const members = await readTar(await flatten([lower, upper, top]));
    expect(members.map((m) => [m.name, m.content.toString()])).toEqual([['x', 'top']]);
  });

  it('reports a broken layer clearly', async () => {
    await expect(flatten([Buffer.from('not a tar at all'.repeat(40))])).rejects.toThrow(/layer 1 of 1 is not a readable tar/);
    const whole = await tarOf([{ name: 'ok', content: 'fine' }, { name: 'cut', content: 'y'.repeat(5000) }]);
    await expect(flatten([await tarOf([{ name: 'top', content: 't' }]), whole.subarray(0, 2048)])).rejects.toMatchObject({
      code: 'BAD_LAYER',
      message: expect.stringMatching(/layer 2 of 2 is not a readable tar: .*"cut" .*runs past the end/),
    });
  });

  it('keeps owner names, large ids, binary xattrs and other PAX records of each member', async () => {
    const cap = Buffer.from([1, 0, 0, 2, 0xff, 0x0a, 0]);
    const layer = Buffer.concat(await collect(
      tarChunks([
        {
          header: { name: 'bin/ping', type: 'file', mode: 0o4755, uid: 10_000_000, gid: 7, size: 4, mtime: 1_600_000_000, uname: 'alice', gname: 'staff', xattrs: { 'security.capability': cap }, pax: { comment: 'kept' } },
          open: () => [Buffer.from('ping')],
        },
      ]),
    ));
    const out = await flatten([layer]);
    const dir = mkdtempSync(path.join(tmpdir(), 'hoist-flat-'));
    writeFileSync(path.join(dir, 'out.tar'), out);
    expect(execFileSync('tar', ['--full-time', '-tvf', 'out.tar'], { cwd: dir, encoding: 'utf8' })).toMatch(/^-rwsr-xr-x alice\/staff\s+4 2020-09-13 12:26:40 bin\/ping$/m);
    const member = (await collect(readTarEntries(Readable.from([out])))).find((m) => m.header.name === 'bin/ping');
    expect(member?.header).toMatchObject({ name: 'bin/ping', uid: 10_000_000, gid: 7, uname: 'alice', gname: 'staff' });
    expect(member?.header.xattrs?.['security.capability']).toEqual(cap);
    expect(member?.header.pax.comment).toBe('kept');
  });
});

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of source) items.push(item);
  return items;
}
