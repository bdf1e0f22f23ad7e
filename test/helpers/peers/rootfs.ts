/**
 * Reading an unpacked root filesystem (what umoci unpack wrote) into the
 * same FsEntry model the layer reader produces, so the two can be compared.
 */
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import type { FsEntry } from './image-model.js';

function typeOf(st: import('node:fs').Stats): FsEntry['type'] {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return 'other';
}

/** path (relative, no leading slash) -> entry; files with several names list them all in `links`. */
export async function readRootfs(root: string): Promise<Map<string, FsEntry>> {
  const out = new Map<string, FsEntry>();
  const inodes = new Map<string, string[]>();
  async function walk(dir: string, rel: string): Promise<void> {
    for (const name of (await readdir(dir)).sort()) {
      const abs = path.join(dir, name);
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = await lstat(abs);
      const e: FsEntry = { type: typeOf(st), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000) };
      if (e.type === 'file') {
        const data = await readFile(abs);
        e.size = data.length;
        e.sha256 = createHash('sha256').update(data).digest('hex');
        if (st.nlink > 1) {
          const key = `${st.dev}:${st.ino}`;
          inodes.set(key, [...(inodes.get(key) ?? []), r]);
        }
      }
      if (e.type === 'symlink') e.linkname = await readlink(abs);
      out.set(r, e);
      if (e.type === 'dir') await walk(abs, r);
    }
  }
  await walk(root, '');
  for (const names of inodes.values()) {
    if (names.length < 2) continue;
    const sorted = [...names].sort();
    for (const n of names) (out.get(n) as FsEntry).links = sorted;
  }
  return out;
}
