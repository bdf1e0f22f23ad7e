/** Entry builders, stream collectors and GNU tar runners for the snapshot tests. */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import * as tarStream from 'tar-stream';
import type { DirEntry, FileEntry, LayerEntry, SymlinkEntry } from '../../../snapshot/layer-entry.js';
import { createLayer, type LayerOptions, type LayerResult } from '../../../snapshot/layer-stream.js';
import { createTarStream, type EntrySource } from '../../../snapshot/layer-tar.js';

const run = promisify(execFile);

export const T0 = 1_700_000_000;

export function file(path: string, content: string | Buffer, extra: Partial<FileEntry> = {}): FileEntry {
  const data = typeof content === 'string' ? Buffer.from(content) : content;
  return { kind: 'file', path, mode: 0o644, uid: 0, gid: 0, mtime: T0, size: data.length, open: () => Readable.from([data]), ...extra };
}

export function dir(path: string, extra: Partial<DirEntry> = {}): DirEntry {
  return { kind: 'dir', path, mode: 0o755, uid: 0, gid: 0, mtime: T0, ...extra };
}

export function symlink(path: string, linkname: string, extra: Partial<SymlinkEntry> = {}): SymlinkEntry {
  return { kind: 'symlink', path, linkname, mode: 0o777, uid: 0, gid: 0, mtime: T0, ...extra };
}

export async function collect(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function tarBytes(entries: EntrySource, opts: LayerOptions = {}): Promise<Buffer> {
  return collect(createTarStream(entries, opts));
}

export async function layerBytes(entries: EntrySource, opts: LayerOptions = {}): Promise<{ gz: Buffer; tar: Buffer; result: LayerResult }> {
  const layer = createLayer(entries, opts);
  const gz = await collect(layer.stream);
  return { gz, tar: gunzipSync(gz), result: await layer.result };
}

export interface ExtractedEntry {
  header: Omit<tarStream.Header, 'pax'> & { pax?: Record<string, string> | null };
  data: Buffer;
}

/** Reads a tar with tar-stream: the independent JS reader. */
export async function extractWithTarStream(tar: Buffer): Promise<ExtractedEntry[]> {
  const out: ExtractedEntry[] = [];
  const ex = tarStream.extract();
  const done = (async () => {
    for await (const entry of ex) {
      const data = await collect(entry);
      out.push({ header: entry.header as ExtractedEntry['header'], data });
    }
  })();
  ex.end(tar);
  await done;
  return out;
}

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const d = await mkdtemp(join(tmpdir(), 'hoist-snapshot-'));
  try {
    return await fn(d);
  } finally {
    await rm(d, { recursive: true, force: true });
  }
}

/** `tar -tv` with numeric owners, one line per member, as GNU tar prints it. */
export async function gnuList(tar: Buffer): Promise<string[]> {
  return withTempDir(async (d) => {
    const p = join(d, 'layer.tar');
    await writeFile(p, tar);
    const { stdout } = await run('tar', ['--numeric-owner', '--full-time', '-tvf', p], { maxBuffer: 64 << 20 });
    return stdout.trimEnd().split('\n');
  });
}

/** Names GNU tar sees, in archive order. */
export async function gnuNames(tar: Buffer): Promise<string[]> {
  return withTempDir(async (d) => {
    const p = join(d, 'layer.tar');
    await writeFile(p, tar);
    const { stdout } = await run('tar', ['-tf', p], { maxBuffer: 64 << 20 });
    return stdout.trimEnd().split('\n');
  });
}

/** Extracts with GNU tar keeping owners, modes and xattrs into `dest`. */
export async function gnuExtract(tar: Buffer, dest: string): Promise<string> {
  const p = `${dest}.tar`;
  await writeFile(p, tar);
  const { stderr } = await run('tar', ['--xattrs', '--xattrs-include=*', '--numeric-owner', '--same-owner', '-xpf', p, '-C', dest]);
  return stderr;
}

export async function sh(cmd: string, args: string[]): Promise<string> {
  const { stdout } = await run(cmd, args, { maxBuffer: 64 << 20 });
  return stdout;
}

export type { LayerEntry };
