/**
 * Extended attributes of files on disk, the one way hoist reads and writes
 * them (context files, rootfs entries, RUN snapshots). Node has no xattr
 * API; `@napi-rs/xattr` calls llistxattr/lgetxattr/lsetxattr, which never
 * follow a symlink: a link's own attributes are read and written.
 *
 * Only the attributes that image builders carry in layers are read or
 * written (containers/storage's archive code, Docker's and containerd's):
 * `security.capability` and `security.ima` (file capabilities, IMA
 * signatures), `user.*` and, where the process may read them, `trusted.*`.
 * Never `user.overlay.*` / `trusted.overlay.*` (overlayfs bookkeeping, which
 * would turn into whiteouts or redirects where the layer is mounted), nor
 * `security.selinux` (a host label), nor `system.posix_acl_*` (neither
 * Docker, containerd nor containers/storage put ACLs in layers).
 */
import { getAttribute, getAttributeSync, listAttributes, listAttributesSync, removeAttributeSync, setAttributeSync } from '@napi-rs/xattr';

/** Attribute name to value, as read from disk or from `SCHILY.xattr.*` records. */
export type XattrValues = Record<string, Buffer>;

/** Whether an attribute named so travels in a layer. */
export function isCarriedXattr(name: string): boolean {
  if (name === 'security.capability' || name === 'security.ima') return true;
  if (name.startsWith('user.')) return !name.startsWith('user.overlay.');
  if (name.startsWith('trusted.')) return !name.startsWith('trusted.overlay.');
  return false;
}

/** The carried attributes of `values`, undefined when none is left. */
export function carriedXattrs<T>(values: Readonly<Record<string, T>> | undefined): Record<string, T> | undefined {
  if (values === undefined) return undefined;
  let out: Record<string, T> | undefined;
  for (const name of Object.keys(values).sort()) {
    if (isCarriedXattr(name)) (out ??= {})[name] = values[name] as T;
  }
  return out;
}

/** The errno of a failed call: @napi-rs/xattr reports `... (os error N)` with code GenericFailure. */
function errnoOf(err: unknown): number | undefined {
  const m = /\(os error (\d+)\)\s*$/.exec(err instanceof Error ? err.message : '');
  return m ? Number(m[1]) : undefined;
}

const EPERM = 1;
const E2BIG = 7;
const EACCES = 13;
const EINVAL = 22;
const ERANGE = 34;
const ENODATA = 61;
const EOPNOTSUPP = 95;

/** The filesystem or the process cannot hold or read this attribute: a fact of the machine, not a fault. */
function isUnsupported(errno: number | undefined): boolean {
  return errno === EOPNOTSUPP || errno === EPERM || errno === EACCES;
}

/** An Error as Node's fs functions make them, so callers test `code` as they do elsewhere. */
function asNodeError(err: unknown, syscall: string, path: string): NodeJS.ErrnoException {
  const errno = errnoOf(err);
  const names: Record<number, string> = { 2: 'ENOENT', 20: 'ENOTDIR', 40: 'ELOOP', 36: 'ENAMETOOLONG', 5: 'EIO' };
  const message = err instanceof Error ? err.message : String(err);
  const out: NodeJS.ErrnoException = new Error(`${syscall} ${path}: ${message}`, { cause: err });
  if (errno !== undefined) {
    out.errno = -errno;
    out.code = names[errno] ?? `ERRNO_${errno}`;
  }
  out.syscall = syscall;
  out.path = path;
  return out;
}

/**
 * The carried extended attributes of `path` itself (a symlink's own, never
 * its target's), names sorted; undefined when it has none or the filesystem
 * does not support them. Attributes this process may not read (`trusted.*`
 * unless privileged), or that vanish between list and read, are left out.
 * Anything else (the path is gone, I/O errors) throws an ErrnoException.
 */
export async function readXattrs(path: string): Promise<XattrValues | undefined> {
  let names: string[];
  try {
    names = await listAttributes(path);
  } catch (err) {
    return listFailed(err, path);
  }
  let out: XattrValues | undefined;
  for (const name of names.filter(isCarriedXattr).sort()) {
    let value: Buffer | null;
    try {
      value = await getAttribute(path, name);
    } catch (err) {
      getFailed(err, path);
      continue;
    }
    if (value !== null) (out ??= {})[name] = value;
  }
  return out;
}

/** readXattrs, synchronously: for walks that stat synchronously too (a call takes microseconds). */
export function readXattrsSync(path: string): XattrValues | undefined {
  let names: string[];
  try {
    names = listAttributesSync(path);
  } catch (err) {
    return listFailed(err, path);
  }
  let out: XattrValues | undefined;
  for (const name of names.filter(isCarriedXattr).sort()) {
    let value: Buffer | null;
    try {
      value = getAttributeSync(path, name);
    } catch (err) {
      getFailed(err, path);
      continue;
    }
    if (value !== null) (out ??= {})[name] = value;
  }
  return out;
}

function listFailed(err: unknown, path: string): undefined {
  if (isUnsupported(errnoOf(err))) return undefined;
  throw asNodeError(err, 'llistxattr', path);
}

/** Returns when the attribute is simply left out (unreadable here, gone since the list, too large); throws otherwise. */
function getFailed(err: unknown, path: string): void {
  const errno = errnoOf(err);
  if (isUnsupported(errno) || errno === ENODATA || errno === E2BIG || errno === ERANGE) return;
  throw asNodeError(err, 'lgetxattr', path);
}

/** An attribute that could not be set, and why (for a note the caller shows). */
export interface XattrNotSet {
  name: string;
  reason: string;
}

/**
 * Sets each carried attribute of `values` on `path` itself (never through a
 * symlink); attributes outside the carried namespaces are ignored. Those the
 * filesystem or the process's privileges refuse (ENOTSUP, EPERM, EACCES:
 * `user.*` on a symlink, `trusted.*` or `security.capability` without
 * CAP_SYS_ADMIN/CAP_SETFCAP, a filesystem without xattrs) are returned, not
 * thrown; the caller decides whether that is a note or a failure. Anything
 * else throws an ErrnoException. Synchronous: a call takes microseconds,
 * less than a round trip through libuv's thread pool.
 */
export function writeXattrsSync(path: string, values: Readonly<Record<string, Uint8Array | string>>): XattrNotSet[] {
  const notSet: XattrNotSet[] = [];
  for (const name of Object.keys(values).sort()) {
    if (!isCarriedXattr(name)) continue;
    const value = values[name] as Uint8Array | string;
    try {
      setAttributeSync(path, name, typeof value === 'string' ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    } catch (err) {
      const errno = errnoOf(err);
      if (isUnsupported(errno) || errno === E2BIG || errno === ERANGE || errno === EINVAL) {
        notSet.push({ name, reason: err instanceof Error ? err.message.replace(/\s*\(os error \d+\)\s*$/, '') : String(err) });
        continue;
      }
      throw asNodeError(err, 'lsetxattr', path);
    }
  }
  return notSet;
}

/** Whether `name` is overlayfs bookkeeping (`user.overlay.*`, `trusted.overlay.*`). */
export function isOverlayXattr(name: string): boolean {
  return name.startsWith('user.overlay.') || name.startsWith('trusted.overlay.');
}

/** The overlayfs attributes of `path` itself, names only; [] where there are none or none can be read. */
export function overlayXattrNamesSync(path: string): string[] {
  try {
    return listAttributesSync(path).filter(isOverlayXattr);
  } catch (err) {
    return listFailed(err, path) ?? [];
  }
}

/** One attribute of `path` itself, whatever its namespace; undefined when it is absent or cannot be read here. */
export function readOneXattrSync(path: string, name: string): Buffer | undefined {
  try {
    return getAttributeSync(path, name) ?? undefined;
  } catch (err) {
    getFailed(err, path);
    return undefined;
  }
}

/** Removes attribute `name` from `path` itself; an attribute already gone is no error. */
export function removeXattrSync(path: string, name: string): void {
  try {
    removeAttributeSync(path, name);
  } catch (err) {
    const errno = errnoOf(err);
    if (errno === ENODATA) return;
    throw asNodeError(err, 'lremovexattr', path);
  }
}

const CAPABILITY = 'security.capability';
const CAP_REVISION_MASK = 0xff000000;
const CAP_REVISION_2 = 0x02000000;
const CAP_REVISION_3 = 0x03000000;
/** struct vfs_cap_data (revision 2) and vfs_ns_cap_data (revision 3: the same and a le32 rootid). */
const CAP_SIZE_2 = 20;
const CAP_SIZE_3 = 24;

/**
 * `values` with a file capability as an image carries it. Set in a user
 * namespace whose root is not the host's root (the userns runner without
 * root), the kernel stores a capability as revision 3, bound to that root's
 * host uid (rootid), and shows it so from outside: in an image it would
 * apply only in a namespace rooted at that uid, and do nothing under Docker.
 * Where `isImageRoot(rootid)` (the runner's id map makes rootid the image's
 * root) it becomes revision 2, the bytes a root build writes. Anything else
 * is kept as it is.
 */
export function capabilityForImage(values: XattrValues | undefined, isImageRoot: (hostUid: number) => boolean): XattrValues | undefined {
  const cap = values?.[CAPABILITY];
  if (values === undefined || cap === undefined || cap.length !== CAP_SIZE_3) return values;
  const magic = cap.readUInt32LE(0);
  if ((magic & CAP_REVISION_MASK) >>> 0 !== CAP_REVISION_3 || !isImageRoot(cap.readUInt32LE(20))) return values;
  const v2 = Buffer.from(cap.subarray(0, CAP_SIZE_2));
  v2.writeUInt32LE(((magic & ~CAP_REVISION_MASK) | CAP_REVISION_2) >>> 0, 0);
  return { ...values, [CAPABILITY]: v2 };
}

/**
 * Attributes a file has in the image that its inode on disk lacks: an
 * unprivileged apply may set only `user.*`, so a capability, an IMA
 * signature or a `trusted.*` attribute of a layer is kept by StageRootfs,
 * by path. They hold while the path is the same inode with the same size
 * and mtime: Linux clears a capability when the file is written, and an IMA
 * signature no longer matches it.
 */
export interface KeptXattrs {
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  values: XattrValues;
}

/** The identity withKeptXattrs compares, from a bigint lstat. */
export interface FileIdentity {
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
}

/** Whether `kept` still holds for the file of stat `st`: the same inode, size and mtime. */
export function keptXattrsHold(kept: KeptXattrs, st: FileIdentity): boolean {
  return kept.ino === st.ino && kept.size === st.size && kept.mtimeNs === st.mtimeNs;
}

/** `onDisk` completed with what `kept` still gives the file of stat `st` (names the disk has win). */
export function withKeptXattrs(onDisk: XattrValues | undefined, kept: KeptXattrs | undefined, st: FileIdentity): XattrValues | undefined {
  if (kept === undefined || !keptXattrsHold(kept, st)) return onDisk;
  const merged: XattrValues = { ...kept.values, ...onDisk };
  return Object.fromEntries(Object.keys(merged).sort().map((name) => [name, merged[name] as Buffer]));
}

/**
 * A file's attributes as the image has them: those read from disk with a
 * capability bound to the runner's root made revision 2 (`isImageRoot`:
 * the runner's id map, where it has one), then what `kept` still gives the
 * file of stat `st` (the layer's own bytes, never converted; nothing
 * without `st`).
 */
export function imageXattrs(
  onDisk: XattrValues | undefined,
  isImageRoot: ((hostUid: number) => boolean) | undefined,
  kept: KeptXattrs | undefined,
  st: FileIdentity | undefined,
): XattrValues | undefined {
  const read = isImageRoot === undefined ? onDisk : capabilityForImage(onDisk, isImageRoot);
  return st === undefined ? read : withKeptXattrs(read, kept, st);
}
