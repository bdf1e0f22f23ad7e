import { lstat, readlink } from 'node:fs/promises';
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
