/**
 * Reading one file of the build context (its Dockerfile, its .dockerignore)
 * the way BuildKit sends it: symlinks are followed as if the context
 * directory were `/`, so `Dockerfile -> /etc/shadow` means
 * `<context>/etc/shadow` and `../../secret` stops at the context root. A
 * host file outside the context is never opened through a link.
 */
import { constants } from 'node:fs';
import { lstat, readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import { resolveInRootAsync } from '../../../snapshot/root-path.js';
import { errnoCode } from './errors.js';

interface DiskNode {
  kind: 'dir' | 'symlink' | 'other';
  linkname?: string;
}

const ROOT: DiskNode = Object.freeze({ kind: 'dir' });

/** The relative path of `file` inside `contextDir`, or null when it lies outside (lexically). */
export function pathInContext(contextDir: string, file: string): string | null {
  const rel = path.relative(path.resolve(contextDir), path.resolve(file));
  if (rel === '') return '';
  if (rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) return null;
  return rel.split(path.sep).join('/');
}

async function diskNode(abs: string): Promise<DiskNode | undefined> {
  try {
    const st = await lstat(abs);
    if (st.isDirectory()) return { kind: 'dir' };
    if (st.isSymbolicLink()) return { kind: 'symlink', linkname: await readlink(abs) };
    return { kind: 'other' };
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}

/**
 * The host path that `rel` (relative to the context) names once every
 * symlink on the way, the last one included, is resolved inside the context.
 * It may not exist; a symlink loop throws SYMLINK_LOOP.
 */
export async function resolveContextFile(contextDir: string, rel: string): Promise<string> {
  const root = path.resolve(contextDir);
  const resolved = await resolveInRootAsync<DiskNode>(
    {
      root: ROOT,
      child: (parent, _name, p) => (parent.kind === 'dir' ? diskNode(path.join(root, p)) : undefined),
      linkname: (node) => (node.kind === 'symlink' ? node.linkname : undefined),
    },
    rel,
    { followFinal: true },
  );
  return path.join(root, resolved.path);
}

/**
 * Reads `file`: through resolveContextFile when it lies inside the context,
 * as given when the user named a file outside it. Fails like readFile
 * (ENOENT, EISDIR, ...); a link swapped in after resolution fails with ELOOP.
 */
export async function readContextFile(contextDir: string, file: string): Promise<string> {
  const rel = pathInContext(contextDir, file);
  if (rel === null) return readFile(file, 'utf8');
  const resolved = await resolveContextFile(contextDir, rel);
  // O_NONBLOCK: a FIFO planted as the Dockerfile fails instead of waiting for a writer forever.
  return readFile(resolved, { encoding: 'utf8', flag: constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK });
}
