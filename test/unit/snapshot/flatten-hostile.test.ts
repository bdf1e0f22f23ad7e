/**
 * `hoist export` of hostile layers (issue 11, "hoist export writes a
 * traversal tar"): whatever the layers say, the exported tar is a real
 * filesystem, laid out as containerd's applier (pkg/archive applyNaive)
 * lays the layers out inside its root: parents are resolved through the
 * symlinks already applied (`fs.RootPath`), `..` and absolute names stay
 * inside the root, hard-link targets and whiteouts go through the same
 * resolution. No member of the output lies below a symlink, so neither GNU
 * tar nor a naive extractor (Python's tarfile without a filter) writes
 * outside the directory it unpacks into.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flattenLayers } from '../../../snapshot/flatten.js';
import { readTar, tarChunks, type TarEntryHeader, type TarMemberInput, type TarType } from '../../../src/tar/index.js';

interface Member {
  name: string;
  type?: TarType;
  content?: string;
  linkname?: string;
}

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of source) items.push(item);
  return items;
}

/** A layer tar written by the project's tar writer, names exactly as given. */
async function layer(members: Member[]): Promise<Buffer> {
  const inputs: TarMemberInput[] = members.map((m) => {
    const type = m.type ?? 'file';
    const body = Buffer.from(m.content ?? '');
    const header = {
      name: m.name,
      type,
      mode: type === 'dir' ? 0o755 : type === 'symlink' ? 0o777 : 0o644,
      uid: 0,
      gid: 0,
      size: type === 'file' ? body.length : 0,
      mtime: 1_700_000_000,
      ...(m.linkname === undefined ? {} : { linkname: m.linkname }),
    };
    return type === 'file' && body.length > 0 ? { header, open: () => [body] } : { header };
  });
  return Buffer.concat(await collect(tarChunks(inputs)));
}

async function flatten(layers: Buffer[]): Promise<Buffer> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  await flattenLayers(layers.map((l) => async () => Readable.from([l])), out);
  return Buffer.concat(chunks);
}

async function headers(tar: Buffer): Promise<TarEntryHeader[]> {
  return (await collect(readTar(Readable.from([tar])))).map((e) => e.header);
}

const bare = (name: string): string => name.replace(/\/$/, '');

/** The invariant of a real filesystem: relative clean names, nothing below a symlink, links to written files. */
function expectRealFilesystem(members: TarEntryHeader[]): void {
  const symlinks = new Set(members.filter((m) => m.type === 'symlink').map((m) => bare(m.name)));
  const seen = new Set<string>();
  for (const m of members) {
    const name = bare(m.name);
    expect(name.startsWith('/'), name).toBe(false);
    expect(name.split('/').every((c) => c !== '' && c !== '.' && c !== '..'), name).toBe(true);
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) expect(symlinks.has(parts.slice(0, i).join('/')), `${name} lies below a symlink`).toBe(false);
    if (m.type === 'link') expect(seen.has(m.linkname), `${name} links to ${m.linkname}, not written before it`).toBe(true);
    seen.add(name);
  }
}

let work: string;
/** A directory outside every extraction root: the symlinks below point into it. */
let outside: string;
const outsideRel = (): string => outside.replace(/^\/+/, '');

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'hoist-flat-hostile-'));
  outside = path.join(work, 'outside');
  mkdirSync(outside);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

let rootCount = 0;
/** Extract `tar` with GNU tar and with Python's tarfile (no filter: it follows symlinks), each into a fresh root. */
function extractBoth(tar: Buffer): { gnu: string; python: string } {
  const file = path.join(work, `out-${rootCount}.tar`);
  writeFileSync(file, tar);
  const gnu = path.join(work, `gnu-${rootCount}`);
  const python = path.join(work, `py-${rootCount}`);
  rootCount++;
  mkdirSync(gnu);
  mkdirSync(python);
  execFileSync('tar', ['-xf', file, '-C', gnu]);
  execFileSync('python3', ['-c', 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])', file, python]);
  return { gnu, python };
}

function expectOutsideUntouched(): void {
  expect(readdirSync(outside)).toEqual([]);
}

describe('hoist export of hostile layers', () => {
  it('a member below a symlink of its own layer lands at the link target inside the root, not outside', async () => {
    const tar = await flatten([await layer([{ name: 'lnk', type: 'symlink', linkname: outside }, { name: 'lnk/file', content: 'pwned' }])]);
    const members = await headers(tar);
    expectRealFilesystem(members);
    expect(members.map((m) => bare(m.name))).toContain(`${outsideRel()}/file`);
    expect(members.find((m) => bare(m.name) === 'lnk')).toMatchObject({ type: 'symlink', linkname: outside });
    for (const root of Object.values(extractBoth(tar))) {
      expect(readFileSync(path.join(root, outsideRel(), 'file'), 'utf8')).toBe('pwned');
      expect(readlinkSync(path.join(root, 'lnk'))).toBe(outside);
    }
    expectOutsideUntouched();
  });

  it('a member of a higher layer below a symlink of a lower one, also through a relative link that climbs', async () => {
    const lower = await layer([
      { name: 'etc/', type: 'dir' },
      { name: 'etc/up', type: 'symlink', linkname: `../../../../..${outside}` },
      { name: 'abs', type: 'symlink', linkname: outside },
    ]);
    const upper = await layer([{ name: 'etc/up/a', content: 'A' }, { name: 'abs/b', content: 'B' }, { name: 'abs/sub/', type: 'dir' }, { name: 'abs/sub/c', content: 'C' }]);
    const tar = await flatten([lower, upper]);
    const members = await headers(tar);
    expectRealFilesystem(members);
    const names = members.map((m) => bare(m.name));
    for (const f of ['a', 'b', 'sub/c']) expect(names).toContain(`${outsideRel()}/${f}`);
    for (const root of Object.values(extractBoth(tar))) {
      expect(readFileSync(path.join(root, outsideRel(), 'sub/c'), 'utf8')).toBe('C');
      expect(lstatSync(path.join(root, 'etc/up')).isSymbolicLink()).toBe(true);
    }
    expectOutsideUntouched();
  });

  it('`..` and absolute member names stay inside the root', async () => {
    const tar = await flatten([
      await layer([
        { name: '../../escape', content: 'e' },
        { name: `/${outsideRel()}/abs`, content: 'a' },
        { name: 'd/../../../up', content: 'u' },
        { name: './ok/./x', content: 'x' },
      ]),
    ]);
    const members = await headers(tar);
    expectRealFilesystem(members);
    expect(members.filter((m) => m.type === 'file').map((m) => bare(m.name)).sort()).toEqual([`${outsideRel()}/abs`, 'escape', 'ok/x', 'up'].sort());
    for (const root of Object.values(extractBoth(tar))) expect(readFileSync(path.join(root, 'escape'), 'utf8')).toBe('e');
    expectOutsideUntouched();
    expect(existsSync(path.join(work, 'escape'))).toBe(false);
  });

  it('a hard link whose target goes through a symlink links to the real file', async () => {
    const tar = await flatten([
      await layer([
        { name: 'real/', type: 'dir' },
        { name: 'real/f', content: 'data' },
        { name: 'via', type: 'symlink', linkname: '/real' },
        { name: 'h', type: 'link', linkname: 'via/f' },
        { name: 'via/g', content: 'g' },
        { name: 'via/h2', type: 'link', linkname: '../via/g' },
      ]),
    ]);
    const members = await headers(tar);
    expectRealFilesystem(members);
    expect(members.find((m) => bare(m.name) === 'h')).toMatchObject({ type: 'link', linkname: 'real/f' });
    expect(members.find((m) => bare(m.name) === 'real/h2')).toMatchObject({ type: 'link', linkname: 'real/g' });
    const { gnu } = extractBoth(tar);
    expect(statSync(path.join(gnu, 'h')).ino).toBe(statSync(path.join(gnu, 'real/f')).ino);
    expectOutsideUntouched();
  });

  it('a hard link through a symlink to a file outside the root is refused: there is no such file inside', async () => {
    const pending = flatten([await layer([{ name: 'lnk', type: 'symlink', linkname: '/etc' }, { name: 'h', type: 'link', linkname: 'lnk/passwd' }])]);
    await expect(pending).rejects.toMatchObject({ code: 'INVALID_HARDLINK', message: expect.stringMatching(/lnk\/passwd/) });
  });

  it('whiteouts and opaque markers through a symlink act on the link target inside the root', async () => {
    const lower = await layer([
      { name: 'data/', type: 'dir' },
      { name: 'data/victim', content: 'v' },
      { name: 'data/keep', content: 'k' },
      { name: 'wl', type: 'symlink', linkname: '/data' },
      { name: 'data2/', type: 'dir' },
      { name: 'data2/old', content: 'o' },
      { name: 'ol', type: 'symlink', linkname: 'data2' },
    ]);
    const upper = await layer([{ name: 'wl/.wh.victim' }, { name: 'ol/.wh..wh..opq' }, { name: 'ol/new', content: 'n' }]);
    const members = await headers(await flatten([lower, upper]));
    expectRealFilesystem(members);
    expect(members.filter((m) => m.type !== 'dir').map((m) => bare(m.name)).sort()).toEqual(['data/keep', 'data2/new', 'ol', 'wl']);
  });

  it('a file of a lower layer survives under a hard link when its own name is deleted', async () => {
    const lower = await layer([{ name: 'a', content: 'shared' }, { name: 'b', type: 'link', linkname: 'a' }]);
    const upper = await layer([{ name: '.wh.a' }]);
    const tar = await flatten([lower, upper]);
    const members = await headers(tar);
    expectRealFilesystem(members);
    expect(members.map((m) => [bare(m.name), m.type])).toEqual([['b', 'file']]);
    expect(readFileSync(path.join(extractBoth(tar).gnu, 'b'), 'utf8')).toBe('shared');
  });
});
