/**
 * Everything stat says about every entry of a directory tree (type, mode,
 * owner, size, mtime in ns, inode, link target), as sorted lines: two
 * listings are equal when a stat-walk snapshot would see no change.
 */
import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';

export async function listTree(root: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(rel: string): Promise<void> {
    const abs = path.join(root, rel);
    const st = await lstat(abs, { bigint: true });
    const link = st.isSymbolicLink() ? ` -> ${await readlink(abs)}` : '';
    out.push(`/${rel} mode=${st.mode.toString(8)} ${st.uid}:${st.gid} size=${st.size} mtime=${st.mtimeNs} ino=${st.ino} rdev=${st.rdev}${link}`);
    if (st.isDirectory()) for (const name of (await readdir(abs)).sort()) await walk(rel === '' ? name : `${rel}/${name}`);
  }
  await walk('');
  return out;
}
