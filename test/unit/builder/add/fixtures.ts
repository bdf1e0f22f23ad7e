/** Archives and servers built at test time, in os.tmpdir(). */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGzip } from 'node:zlib';
import * as tar from 'tar-stream';
import type { LayerEntry } from '../../../../snapshot/layer-entry.js';
import { ensureDebianPackages } from '../../../helpers/packages.js';

export const run = promisify(execFile);

export function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'hoist-add-test-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface TestMember {
  header: tar.Header | (Partial<tar.Header> & { name: string });
  /** Content of a file member. */
  content?: string | Buffer;
  /** Streamed content of a file member (header.size must be set). */
  chunks?: () => AsyncIterable<Buffer>;
}

/** A tar archive (as a stream) with these members, written by tar-stream. */
export function packMembers(members: readonly TestMember[]): Readable {
  const pack = tar.pack();
  void (async () => {
    try {
      for (const m of members) {
        if (m.chunks !== undefined) {
          const sink = m.header;
          await new Promise<void>((resolve, reject) => {
            const w = pack.entry(sink, (err) => (err ? reject(err) : resolve()));
            void (async () => {
              for await (const chunk of m.chunks!()) {
                if (!w.write(chunk)) await new Promise<void>((r) => w.once('drain', () => r()));
              }
              w.end(undefined);
            })().catch(reject);
          });
        } else {
          await new Promise<void>((resolve, reject) => {
            const body = m.content === undefined ? undefined : Buffer.from(m.content);
            if (body === undefined) pack.entry(m.header, (err) => (err ? reject(err) : resolve()));
            else pack.entry(m.header, body, (err) => (err ? reject(err) : resolve()));
          });
        }
      }
      pack.finalize();
    } catch (err) {
      pack.destroy(err as Error);
    }
  })();
  return pack as unknown as Readable;
}

export type Packing = 'tar' | 'gzip' | 'bzip2' | 'xz' | 'zstd';

/** Writes the members to `file`, compressed with `packing` (zlib for gzip, the CLI for the others). */
export async function writeArchive(file: string, members: readonly TestMember[], packing: Packing = 'tar'): Promise<void> {
  const tarFile = packing === 'tar' ? file : `${file}.tmp.tar`;
  if (packing === 'gzip') {
    await pipeline(packMembers(members), createGzip({ level: 1 }), createWriteStream(file));
    return;
  }
  await pipeline(packMembers(members), createWriteStream(tarFile));
  if (packing === 'tar') return;
  await compressFile(tarFile, file, packing);
  await rm(tarFile, { force: true });
}

/** `cmd -c < from > to` for bzip2, xz, zstd, gzip. */
export async function compressFile(from: string, to: string, packing: Exclude<Packing, 'tar'>): Promise<void> {
  await ensureDebianPackages([packing === 'xz' ? 'xz-utils' : packing]);
  await run('sh', ['-c', `${packing} -c < "$1" > "$2"`, 'sh', from, to]);
}

export function file(name: string, content: string | Buffer, extra: Partial<tar.Header> = {}): TestMember {
  return { header: { name, type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: new Date(1_600_000_000_000), ...extra }, content };
}

export function dir(name: string, extra: Partial<tar.Header> = {}): TestMember {
  return { header: { name, type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime: new Date(1_600_000_000_000), ...extra } };
}

export function symlink(name: string, linkname: string, extra: Partial<tar.Header> = {}): TestMember {
  return { header: { name, type: 'symlink', linkname, mode: 0o777, mtime: new Date(1_600_000_000_000), ...extra } };
}

export function hardlink(name: string, linkname: string, extra: Partial<tar.Header> = {}): TestMember {
  return { header: { name, type: 'link', linkname, mode: 0o644, mtime: new Date(1_600_000_000_000), ...extra } };
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function sha256Of(stream: Readable): Promise<string> {
  const h = createHash('sha256');
  for await (const c of stream) h.update(c as Buffer);
  return h.digest('hex');
}

export function byPath(entries: readonly LayerEntry[]): Map<string, LayerEntry> {
  return new Map(entries.map((e) => [e.path, e]));
}

export async function contentOf(entry: LayerEntry | undefined): Promise<string> {
  if (entry?.kind !== 'file') throw new Error(`not a file entry: ${JSON.stringify(entry)}`);
  return (await readAll(entry.open())).toString();
}

/** Sets the typeflag of the first header of a tar buffer and fixes its checksum. */
export function patchTypeflag(tarBytes: Buffer, flag: string): Buffer {
  const out = Buffer.from(tarBytes);
  out[156] = flag.charCodeAt(0);
  return fixChecksum(out, 0);
}

/** Stores a negative mtime (base-256, as GNU tar does) in the header at `offset`. */
export function patchNegativeMtime(tarBytes: Buffer, offset: number, seconds: number): Buffer {
  const out = Buffer.from(tarBytes);
  const field = out.subarray(offset + 136, offset + 148);
  let v = BigInt.asUintN(88, BigInt(seconds)); // two's complement in 11 bytes
  for (let i = 11; i >= 1; i--) {
    field[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  field[0] = 0xff;
  return fixChecksum(out, offset);
}

function fixChecksum(buf: Buffer, offset: number): Buffer {
  buf.fill(0x20, offset + 148, offset + 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += buf[offset + i] as number;
  buf.write(`${sum.toString(8).padStart(6, '0')}\0 `, offset + 148, 'latin1');
  return buf;
}
