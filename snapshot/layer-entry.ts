/**
 * What a layer is made of, before it becomes tar: one value per path.
 *
 * Paths are relative to the layer root, `/`-separated, with no leading `/`
 * or `./` (the writer normalises `./a//b/` to `a/b` and refuses absolute
 * paths and `..`). Times are integer seconds since the epoch; the tar carries
 * no atime or ctime, and uname/gname are always written empty so that a
 * layer depends on numbers, not on the builder's /etc/passwd.
 */
import { posix } from 'node:path';
import type { Readable } from 'node:stream';

/** Extended attributes, written as PAX `SCHILY.xattr.<name>` records. */
export type Xattrs = Readonly<Record<string, Uint8Array | string>>;

/** `xattrs` as name -> base64 of the value, as cache keys and the context digests file write them; {} for none. */
export function xattrsBase64(xattrs: Xattrs | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(xattrs ?? {})) out[name] = Buffer.from(value).toString('base64');
  return out;
}

interface Owned {
  /** Relative path inside the layer. */
  path: string;
  /** Permission bits including setuid (0o4000), setgid (0o2000), sticky (0o1000). File-type bits are ignored. */
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch; fractions are dropped. */
  mtime: number;
  xattrs?: Xattrs;
  /**
   * Opaque to the layer writer and the view; FsView keeps it on the node the
   * entry makes, so that whoever walks the view can tell which member made
   * it (hoist export keeps each member's owner names and PAX records so).
   */
  origin?: unknown;
}

export interface FileEntry extends Owned {
  kind: 'file';
  size: number;
  /** Opens the content; called once, when the writer reaches this entry. Must yield exactly `size` bytes. */
  open(): Readable;
  /**
   * For a small file: its whole content in one synchronous call (content a
   * directory walk has read already, or one read of a context file), which
   * the layer writer calls instead of `open` when it reaches the entry: a
   * stream and two async generators per file cost more than the read (a
   * COPY of thousands of context files).
   */
  readWhole?: () => Buffer;
  /**
   * Files that share a key are hard links to one inode (a directory source
   * uses `dev:ino`). The first of them in tar order carries the content; the
   * others become `link` entries pointing at it.
   */
  linkKey?: string;
}

export interface DirEntry extends Owned {
  kind: 'dir';
}

export interface SymlinkEntry extends Owned {
  kind: 'symlink';
  /** Stored verbatim: a symlink may point anywhere; whoever applies the layer resolves it inside the rootfs. */
  linkname: string;
}

/** A hard link to `target`, a path in this layer or in a layer below. */
export interface HardlinkEntry extends Owned {
  kind: 'hardlink';
  target: string;
}

export interface DeviceEntry extends Owned {
  kind: 'char-device' | 'block-device';
  devmajor: number;
  devminor: number;
}

export interface FifoEntry extends Owned {
  kind: 'fifo';
}

/** `path` was deleted: written as `<dir>/.wh.<name>`, an empty regular file. */
export interface WhiteoutEntry {
  kind: 'whiteout';
  path: string;
  /** Defaults to 0 (the epoch); mode is 0 and owner 0:0, as containerd writes whiteouts. */
  mtime?: number;
}

/** Directory `path` hides everything below it from lower layers: written as `<path>/.wh..wh..opq`. */
export interface OpaqueEntry {
  kind: 'opaque';
  path: string;
  mtime?: number;
}

export type LayerEntry =
  | FileEntry
  | DirEntry
  | SymlinkEntry
  | HardlinkEntry
  | DeviceEntry
  | FifoEntry
  | WhiteoutEntry
  | OpaqueEntry;

export type LayerEntryKind = LayerEntry['kind'];

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';

/**
 * What a tar member named `path` (clean, relative) means in a layer: `.wh..wh..opq`
 * makes its directory opaque, `.wh.NAME` deletes NAME; undefined for anything else.
 */
export function whiteoutMarker(path: string): { kind: 'opaque' | 'whiteout'; path: string } | undefined {
  const slash = path.lastIndexOf('/');
  const dir = slash === -1 ? '' : path.slice(0, slash);
  const base = path.slice(slash + 1);
  if (base === OPAQUE_MARKER) return { kind: 'opaque', path: dir };
  if (base.startsWith(WHITEOUT_PREFIX)) {
    return { kind: 'whiteout', path: posix.join(dir, base.slice(WHITEOUT_PREFIX.length)) };
  }
  return undefined;
}
