/**
 * Layer paths: the one normal form every entry is brought to, the guard that
 * keeps a layer from naming anything outside its root, and the order entries
 * are written in.
 */
import { HoistError } from '../src/errors.js';

/**
 * `./a//b/` -> `a/b`. Refuses (`UNSAFE_PATH`) absolute paths, `..`
 * components and NUL bytes, and (`INVALID_PATH`) a path that names the layer
 * root itself.
 */
export function normalizeLayerPath(input: string): string {
  // Most paths are normal already: checked without splitting them (deep trees have long paths, one per level).
  if (isPlainPath(input)) return input;
  if (input.includes('\0')) {
    throw new HoistError('UNSAFE_PATH', `layer path contains a NUL byte: ${JSON.stringify(input)}`);
  }
  if (input.startsWith('/')) {
    throw new HoistError('UNSAFE_PATH', `layer path is absolute: ${JSON.stringify(input)}`, {
      hint: 'layer entries are named relative to the layer root, e.g. "usr/bin/x"',
    });
  }
  const parts: string[] = [];
  for (const part of input.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      throw new HoistError('UNSAFE_PATH', `layer path leaves the layer root: ${JSON.stringify(input)}`);
    }
    parts.push(part);
  }
  if (parts.length === 0) {
    throw new HoistError('INVALID_PATH', `layer path names the layer root: ${JSON.stringify(input)}`);
  }
  return parts.join('/');
}

const SLASH = 0x2f;
const DOT = 0x2e;

/**
 * True when `p` is certainly normal: not empty, no empty, `.` or `..`
 * component, no leading or trailing `/`, no NUL. One scan, no allocation
 * (deep trees have long paths, one per level); false may still be normal
 * (a component starting with a dot), for the caller's slow path to decide.
 */
export function isPlainPath(p: string): boolean {
  if (p === '' || p.charCodeAt(0) === DOT) return false;
  let prev = SLASH; // as if the path followed a separator: a leading `/` is an empty component
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c === 0 || (prev === SLASH && (c === SLASH || c === DOT))) return false;
    prev = c;
  }
  return prev !== SLASH;
}

/** `a/b/c` -> [`a`, `a/b`]. */
export function ancestorsOf(path: string): string[] {
  const out: string[] = [];
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) out.push(path.slice(0, i));
  return out;
}

export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i === -1 ? '' : path.slice(0, i);
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}


/**
 * The sort key of a normalised path: its UTF-8 bytes with each `/` replaced
 * by 0x00. Comparing keys bytewise is comparing paths component by
 * component (components contain neither `/` nor NUL), so a directory comes
 * before everything below it and its contents come right after it, as in a
 * depth-first walk that reads each directory in byte order (GNU tar
 * `--sort=name`, Go's filepath.Walk): `a`, `a/b`, `a/b/c`, `a-b`.
 */
export function orderKey(path: string): Buffer {
  const key = Buffer.from(path, 'utf8');
  for (let i = 0; i < key.length; i++) if (key[i] === SLASH) key[i] = 0;
  return key;
}

/**
 * The key of a directory's opaque marker: the directory's key plus one
 * separator. No real path has an empty component, so the marker sorts after
 * the directory and before anything inside it; an applier meets "hide the
 * lower layers here" before the entries that repopulate the directory.
 */
export function opaqueOrderKey(dirPath: string): Buffer {
  return Buffer.concat([orderKey(dirPath), Buffer.of(0)]);
}

export function compareLayerPaths(a: string, b: string): number {
  return Buffer.compare(orderKey(a), orderKey(b));
}
