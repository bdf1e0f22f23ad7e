/** Builds fsutil-style test trees ("ADD <path> <kind> [extra]") in os.tmpdir() and prints walks like fsutil's tests. */
import { chmod, link, mkdir, mkdtemp, readdir, rm, symlink, writeFile, lstat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { walkContext, type WalkOptions } from '../../../../src/builder/context/index.js';

export async function makeTempDir(prefix = 'hoist-context-'): Promise<string> {
  return mkdtemp(path.join(tmpdir(), prefix));
}

/** Applies fsutil's tree lines: `ADD <path> file [content | >hardlink-target]`, `dir`, `symlink <target>`. */
export async function addTree(root: string, lines: readonly string[]): Promise<void> {
  for (const line of lines) {
    const m = /^ADD (\S+) (file|dir|symlink)(?: (.*))?$/.exec(line.trimEnd());
    if (!m) throw new Error(`bad tree line ${JSON.stringify(line)}`);
    const [, rel = '', kind, extra = ''] = m;
    const abs = path.join(root, rel);
    if (kind === 'dir') await mkdir(abs, { recursive: true });
    else if (kind === 'symlink') await symlink(extra, abs);
    else if (extra.startsWith('>')) await link(path.join(root, extra.slice(1)), abs);
    else await writeFile(abs, extra);
  }
}

export async function makeTree(lines: readonly string[]): Promise<string> {
  const root = await makeTempDir();
  await addTree(root, lines);
  return root;
}

/** Restores permissions a test took away, then deletes the tree. */
export async function removeTree(root: string): Promise<void> {
  const restore = async (dir: string): Promise<void> => {
    await chmod(dir, 0o755);
    for (const e of await readdir(dir, { withFileTypes: true })) {
      if (e.isDirectory()) await restore(path.join(dir, e.name));
    }
  };
  await restore(root).catch(() => undefined);
  await rm(root, { recursive: true, force: true });
}

/** One `<kind> <path>` line per entry, as fsutil's bufWalk prints them. */
export async function describeWalk(root: string, opts: WalkOptions = {}): Promise<string> {
  let out = '';
  for await (const e of walkContext(root, opts)) {
    let kind = 'file';
    if (e.kind === 'dir') kind = 'dir';
    else if (e.kind === 'symlink') kind = `symlink:${e.linkTarget ?? ''}`;
    out += `${kind} ${e.path}\n`;
  }
  return out;
}

export async function isSymlink(p: string): Promise<boolean> {
  return (await lstat(p)).isSymbolicLink();
}
