/**
 * elfLinkage on real programs of this machine (busybox-static's busybox,
 * coreutils' ls, a static-pie built here), on 32-bit copies of them made by
 * objcopy, on big-endian re-encodings of their headers, and on files that
 * are no ELF program. binutils' readelf is the oracle for every ELF file:
 * what it reports as the program interpreter, or that there is none.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { elfLinkage, type ElfLinkage } from '../../../src/run/index.js';
import { ensureDebianPackages } from '../../helpers/packages.js';

let work: string;

beforeAll(async () => {
  await ensureDebianPackages(['busybox-static', 'coreutils', 'binutils', 'gcc', 'libc6-dev']);
  work = await mkdtemp(path.join(tmpdir(), 'hoist-elf-'));
}, 15 * 60_000);

afterAll(async () => {
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

/** What readelf says of `file`: its interpreter, none, or that it is no ELF file. */
function readelfLinkage(file: string): ElfLinkage {
  const r = spawnSync('readelf', ['-lW', file], { encoding: 'utf8' });
  if (r.status !== 0 || !/Program Headers:/.test(r.stdout)) return { kind: 'not-elf' };
  const interp = /\[Requesting program interpreter: ([^\]]+)\]/.exec(r.stdout);
  return interp === null ? { kind: 'static' } : { kind: 'dynamic', interpreter: interp[1] as string };
}

function swap(buf: Buffer, at: number, size: number): void {
  buf.subarray(at, at + size).reverse();
}

/**
 * The file with its ELF header and program headers in big-endian byte
 * order (EI_DATA 2), the rest left as it was; its section headers are
 * dropped so that no little-endian table remains that a reader could trip
 * on. Only the headers matter to a loader's choice of interpreter.
 */
function toBigEndian(elf: Buffer): Buffer {
  const out = Buffer.from(elf);
  const is64 = out[4] === 2;
  const phoff = Number(is64 ? out.readBigUInt64LE(32) : out.readUInt32LE(28));
  const phentsize = out.readUInt16LE(is64 ? 54 : 42);
  const phnum = out.readUInt16LE(is64 ? 56 : 44);
  out[5] = 2;
  // Section headers: offset, count and string table index set to 0.
  out.fill(0, is64 ? 40 : 32, is64 ? 48 : 36);
  out.fill(0, is64 ? 60 : 48, is64 ? 64 : 52);
  const header = is64
    ? [[16, 2], [18, 2], [20, 4], [24, 8], [32, 8], [48, 4], [52, 2], [54, 2], [56, 2], [58, 2]]
    : [[16, 2], [18, 2], [20, 4], [24, 4], [28, 4], [36, 4], [40, 2], [42, 2], [44, 2], [46, 2]];
  for (const [at, size] of header) swap(out, at as number, size as number);
  const fields = is64 ? [[0, 4], [4, 4], [8, 8], [16, 8], [24, 8], [32, 8], [40, 8], [48, 8]] : [[0, 4], [4, 4], [8, 4], [12, 4], [16, 4], [20, 4], [24, 4], [28, 4]];
  for (let i = 0; i < phnum; i++) for (const [at, size] of fields) swap(out, phoff + i * phentsize + (at as number), size as number);
  return out;
}

describe('elfLinkage', () => {
  it('finds busybox-static\'s busybox static and coreutils\' ls dynamic, as readelf does', async () => {
    expect(await elfLinkage('/bin/busybox')).toEqual({ kind: 'static' });
    expect(readelfLinkage('/bin/busybox')).toEqual({ kind: 'static' });
    const ls = await elfLinkage('/bin/ls');
    expect(ls).toEqual(readelfLinkage('/bin/ls'));
    expect(ls).toMatchObject({ kind: 'dynamic', interpreter: expect.stringMatching(/^\/lib.*\/ld-linux[^/]*\.so\.\d$/) });
  });

  it('finds a static-pie (a shared object type, no interpreter) static', async () => {
    const src = path.join(work, 'hello.c');
    await writeFile(src, 'int main(void) { return 0; }\n');
    const out = path.join(work, 'hello-static-pie');
    execFileSync('gcc', ['-static-pie', '-o', out, src]);
    expect(execFileSync('readelf', ['-hW', out], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })).toMatch(/Type:\s+DYN/);
    expect(await elfLinkage(out)).toEqual({ kind: 'static' });
    expect(readelfLinkage(out)).toEqual({ kind: 'static' });
  });

  it('reads 32-bit files (objcopy\'s elf32-i386 copies) and big-endian ones (headers re-encoded) alike', async () => {
    const cases: [string, ElfLinkage['kind']][] = [];
    for (const [name, source] of [['busybox', '/bin/busybox'], ['ls', '/bin/ls']] as const) {
      const kind = (await elfLinkage(source)).kind;
      const elf32 = path.join(work, `${name}-32`);
      execFileSync('objcopy', ['-O', 'elf32-i386', source, elf32]);
      expect(execFileSync('readelf', ['-hW', elf32], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })).toMatch(/Class:\s+ELF32/);
      const be64 = path.join(work, `${name}-be64`);
      const be32 = path.join(work, `${name}-be32`);
      await writeFile(be64, toBigEndian(await readFile(source)));
      await writeFile(be32, toBigEndian(await readFile(elf32)));
      expect(execFileSync('readelf', ['-hW', be32], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })).toMatch(/big endian/);
      cases.push([elf32, kind], [be64, kind], [be32, kind]);
    }
    for (const [file, kind] of cases) {
      const got = await elfLinkage(file);
      expect(got, file).toEqual(readelfLinkage(file));
      expect(got.kind, file).toBe(kind);
    }
    expect(cases.map(([, kind]) => kind)).toEqual(['static', 'static', 'static', 'dynamic', 'dynamic', 'dynamic']);
  });

  it('finds no ELF program in a script, a text, an empty file or a truncated ELF file', async () => {
    const script = path.join(work, 'chown');
    await writeFile(script, '#!/bin/sh\nexec /bin/busybox chown "$@"\n', { mode: 0o755 });
    const empty = path.join(work, 'empty');
    await writeFile(empty, '');
    const truncated = path.join(work, 'truncated');
    await writeFile(truncated, (await readFile('/bin/busybox')).subarray(0, 40));
    const headerOnly = path.join(work, 'header-only');
    // The whole ELF header, but the program headers it points to are missing.
    await writeFile(headerOnly, (await readFile('/bin/ls')).subarray(0, 64));
    for (const file of [script, empty, truncated, headerOnly, '/etc/os-release']) {
      expect(await elfLinkage(file), file).toEqual({ kind: 'not-elf' });
    }
  });

  it('fails for a file that cannot be opened', async () => {
    await expect(elfLinkage(path.join(work, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
