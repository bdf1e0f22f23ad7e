/** Helpers for the tar codec tests: temp dirs, GNU tar, and hand-made header blocks. */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach } from 'vitest';
import { readTar, type TarEntry } from '../../../src/tar/index.js';

export const run = promisify(execFile);

export function useTempDirs(): () => Promise<string> {
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });
  return async () => {
    const d = await mkdtemp(join(tmpdir(), 'hoist-tar-test-'));
    dirs.push(d);
    return d;
  };
}

export async function collect(source: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of source) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export interface ReadMember {
  header: TarEntry['header'];
  offset: number;
  content: Buffer;
}

/** Every member with its content, read by src/tar's stream reader. */
export async function readAll(source: AsyncIterable<Uint8Array>): Promise<ReadMember[]> {
  const out: ReadMember[] = [];
  for await (const entry of readTar(source)) out.push({ header: entry.header, offset: entry.offset, content: await collect(entry.body) });
  return out;
}

/** `buf` cut into pieces of `size` bytes, so that headers and records span chunks. */
export async function* inPieces(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

/** A raw header block with any typeflag (e.g. 'g', 'S'), octal fields and a valid checksum. */
export function rawBlock(name: string, typeflag: string, size: number, opts: { magic?: 'ustar' | 'gnu' | 'v7' } = {}): Buffer {
  const b = Buffer.alloc(512);
  b.write(name, 0, 100, 'utf8');
  b.write('0000644\0', 100, 8, 'ascii');
  b.write('0000000\0', 108, 8, 'ascii');
  b.write('0000000\0', 116, 8, 'ascii');
  b.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 12, 'ascii');
  b.write('00000000000\0', 136, 12, 'ascii');
  b.write(typeflag, 156, 1, 'latin1');
  if (opts.magic === 'gnu') b.write('ustar  \0', 257, 8, 'latin1');
  else if (opts.magic !== 'v7') b.write('ustar\x0000', 257, 8, 'latin1');
  return withChecksum(b);
}

export function withChecksum(block: Buffer): Buffer {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += block[i] ?? 0;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return block;
}

/** `data` padded to whole blocks. */
export function padded(data: Buffer): Buffer {
  const rest = data.length % 512;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(512 - rest)]);
}
