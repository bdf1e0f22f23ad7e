import { lstat, readlink, stat } from 'node:fs/promises';
import path from 'node:path';

/**
 * `rel` inside `root` with symlinks resolved inside it (an absolute target
 * starts at `root`, `..` stops at it), or undefined if it does not exist.
 * `visited` gets every path looked at on the way, as the image names it.
 */
export async function resolveInside(root: string, rel: string, visited?: string[]): Promise<string | undefined> {
  const todo = rel.split('/').filter((p) => p !== '' && p !== '.');
  const done: string[] = [];
  for (let hops = 0; todo.length > 0; ) {
    const name = todo.shift() as string;
    if (name === '..') {
      done.pop();
      continue;
    }
    visited?.push(`/${[...done, name].join('/')}`);
    const abs = path.join(root, ...done, name);
    const st = await lstat(abs).catch(() => undefined);
    if (st === undefined) return undefined;
    if (st.isSymbolicLink()) {
      if (++hops > 40) return undefined;
      const target = await readlink(abs);
      if (target.startsWith('/')) done.length = 0;
      todo.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
      continue;
    }
    done.push(name);
  }
  return path.join(root, ...done);
}

/**
 * `name` as the shell finds it in the image at `rootfs`: a path with a
 * slash as written (from `cwd`), else the first executable regular file of
 * that name in `searchPath`. `at` is where it was found, `file` what that
 * resolves to, both as paths inside the image.
 */
export async function findProgramInside(rootfs: string, name: string, searchPath: string, cwd: string): Promise<{ at: string; file: string } | undefined> {
  const candidates = name.includes('/') ? [path.posix.resolve(cwd, name)] : searchPath.split(':').filter((d) => d.startsWith('/')).map((d) => path.posix.join(d, name));
  for (const candidate of candidates) {
    const found = await resolveInside(rootfs, candidate);
    if (found === undefined) continue;
    const st = await stat(found).catch(() => undefined);
    if (st === undefined || !st.isFile() || (st.mode & 0o111) === 0) continue;
    return { at: candidate, file: `/${path.relative(rootfs, found)}` };
  }
  return undefined;
}
