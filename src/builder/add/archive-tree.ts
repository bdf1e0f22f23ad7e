/**
 * What extracting an archive into an empty directory leaves behind, worked
 * out without touching the disk: the members are applied one by one to an
 * in-memory tree with the rules BuildKit's ADD unpacker (solver/llbsolver/
 * file/unpack_root.go) applies to a real directory:
 *
 * - Names: leading `/` stripped, then cleaned (`a/./b/../c` -> `a/c`); the
 *   root itself (`.`, `./`, `/`) is skipped; a name that still climbs out
 *   (`../x`, `a/../../x`) is refused (UNSAFE_ARCHIVE_PATH, naming it).
 * - Symlinks the archive itself created are followed when a later member's
 *   parent goes through them (and for a directory member, its own name), as
 *   if the extraction directory were `/` (BuildKit resolves them with
 *   continuity's RootPath): an absolute target is taken from the extraction
 *   root, and `..` at the root stays at the root, as in a chroot. So
 *   `up -> ..` then `up/etc/f` gives `etc/f`. Symlink targets are otherwise
 *   stored verbatim.
 * - Missing parents are implied (0755 root:root in BuildKit). They are not
 *   emitted: the layer writer synthesises exactly that, and the caller may
 *   prefer the metadata the directory already has in the rootfs.
 * - A member replaces whatever is at its name, unless both are directories:
 *   then only the metadata changes and the contents stay. A directory
 *   replaced by anything else loses its contents.
 * - A hard link names an earlier member (after the same cleaning and
 *   symlink resolution). Hard-linked files share one inode: one content,
 *   one set of metadata (the last header that touched it), and in the layer
 *   one `linkKey` group, so whichever name sorts first carries the content.
 *   A link to a symlink, device or fifo becomes a copy of it; a link to a
 *   directory, to the root, or to a name the archive does not contain is an
 *   error (the rootfs below is not visible here).
 *
 * Memory: one small record per member; contents stay wherever the caller
 * keeps them (`ContentRef`).
 */
import { Readable } from 'node:stream';
import { HoistError } from '../../errors.js';
import type { LayerEntry, Xattrs } from '../../../snapshot/layer-entry.js';
import { orderKey } from '../../../snapshot/layer-path.js';
import { cleanPath, resolveInRoot, type RootWalk } from '../../../snapshot/root-path.js';

/** Where a file's bytes are: opened only when the layer writer reaches the entry. */
export interface ContentRef {
  open(): Readable;
}

export interface MemberMeta {
  /** Permission bits with setuid/setgid/sticky. */
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch. */
  mtime: number;
  /** The member's carried `SCHILY.xattr.*` records (snapshot/xattrs.ts). */
  xattrs?: Xattrs;
}

/** One archive member, after its header has been decoded. */
export type Member =
  | ({ type: 'dir' } & MemberMeta)
  | ({ type: 'file'; size: number; content: ContentRef } & MemberMeta)
  | ({ type: 'symlink'; linkname: string } & MemberMeta)
  | ({ type: 'hardlink'; linkname: string } & MemberMeta)
  | ({ type: 'char-device' | 'block-device'; devmajor: number; devminor: number } & MemberMeta)
  | ({ type: 'fifo' } & MemberMeta);

interface Inode extends MemberMeta {
  size: number;
  content: ContentRef;
  names: number;
  key: number;
}

type Node =
  | { kind: 'implied' }
  | ({ kind: 'dir' } & MemberMeta)
  | { kind: 'file'; inode: Inode }
  | ({ kind: 'symlink'; linkname: string } & MemberMeta)
  | ({ kind: 'char-device' | 'block-device'; devmajor: number; devminor: number } & MemberMeta)
  | ({ kind: 'fifo' } & MemberMeta);

/** The extraction root in a resolution: always a directory, never in `nodes`. */
const ROOT = Symbol('extraction root');

/**
 * Cleans an archive name the way BuildKit does: leading slashes dropped,
 * `.`/`..`/`//` resolved. '' for the root itself. Throws
 * UNSAFE_ARCHIVE_PATH when the result leaves the extraction root.
 */
export function cleanMemberName(name: string, archive: string, role = 'member'): string {
  if (name.includes('\0')) {
    throw unsafe(`${archive}: archive ${role} ${JSON.stringify(name)} contains a NUL byte`);
  }
  const clean = cleanPath(name.replace(/^\/+/, ''));
  if (clean.climbed) {
    throw unsafe(`${archive}: archive ${role} ${JSON.stringify(name)} points outside the directory it is extracted to`);
  }
  return clean.path;
}

function unsafe(message: string): HoistError {
  return new HoistError('UNSAFE_ARCHIVE_PATH', message, {
    hint: 'the archive tries to write outside its destination (a "zip slip"); rebuild it with relative names that stay inside, or do not ADD it',
  });
}

export class ArchiveTree {
  private readonly nodes = new Map<string, Node>();
  private inodes = 0;
  /**
   * Where directory members landed, so that a member whose parent name is
   * one of them (the next member of a deep tree) is placed without
   * resolving its path again: every component of such a name is a
   * directory, so it resolves to itself. Forgotten when anything is
   * replaced, as that may change what a name resolves to.
   */
  private readonly placedDirs = new Set<string>();

  /**
   * @param archive names the archive in error messages.
   * @param linkGroup makes `linkKey`s unique to this archive, so that they
   *   cannot collide with another source's keys in the same layer.
   */
  constructor(
    private readonly archive: string,
    private readonly linkGroup: string,
  ) {}

  /** Applies one member named `rawName` (as the archive spells it). */
  add(rawName: string, member: Member): void {
    const name = cleanMemberName(rawName, this.archive);
    if (name === '') return; // the extraction root: its metadata is the caller's
    const target = this.placed(name, member.type === 'dir') ?? this.resolve(name, member.type === 'dir', rawName);
    if (target === '') return;
    this.makeParents(target, rawName);

    const existing = this.nodes.get(target);
    if (existing !== undefined && !(member.type === 'dir' && (existing.kind === 'dir' || existing.kind === 'implied'))) {
      this.remove(target, existing);
      this.placedDirs.clear();
    }
    this.nodes.set(target, this.nodeFor(member, rawName));
    if (member.type === 'dir') this.placedDirs.add(target);
  }

  /** `name` itself when its parent is a directory placed since the last replacement (and it is no symlink to follow). */
  private placed(name: string, followLeaf: boolean): string | undefined {
    const slash = name.lastIndexOf('/');
    if (slash === -1 || !this.placedDirs.has(name.slice(0, slash))) return undefined;
    if (followLeaf && this.nodes.get(name)?.kind === 'symlink') return undefined;
    return name;
  }

  /** The tree as layer entries under `destDir` ('' for the layer root), in layer order. */
  entries(destDir: string): LayerEntry[] {
    const out: LayerEntry[] = [];
    for (const [name, node] of this.nodes) {
      const path = destDir === '' ? name : `${destDir}/${name}`;
      switch (node.kind) {
        case 'implied':
          break;
        case 'dir':
          out.push({ kind: 'dir', path, ...meta(node) });
          break;
        case 'symlink':
          out.push({ kind: 'symlink', path, ...meta(node), linkname: node.linkname });
          break;
        case 'fifo':
          out.push({ kind: 'fifo', path, ...meta(node) });
          break;
        case 'char-device':
        case 'block-device':
          out.push({ kind: node.kind, path, ...meta(node), devmajor: node.devmajor, devminor: node.devminor });
          break;
        case 'file': {
          const inode = node.inode;
          const size = inode.size;
          const content = inode.content;
          out.push({
            kind: 'file',
            path,
            ...meta(inode),
            size,
            open: size === 0 ? () => Readable.from([]) : () => content.open(),
            ...(inode.names > 1 ? { linkKey: `${this.linkGroup}:${inode.key}` } : {}),
          });
          break;
        }
      }
    }
    // One sort key per entry, not two per comparison: paths may be long (deep trees).
    const keyed = out.map((entry) => ({ entry, key: orderKey(entry.path) }));
    return keyed.sort((a, b) => Buffer.compare(a.key, b.key)).map((k) => k.entry);
  }

  private nodeFor(member: Member, rawName: string): Node {
    const m = meta(member);
    switch (member.type) {
      case 'dir':
        return { kind: 'dir', ...m };
      case 'fifo':
        return { kind: 'fifo', ...m };
      case 'symlink':
        return { kind: 'symlink', ...m, linkname: member.linkname };
      case 'char-device':
      case 'block-device':
        return { kind: member.type, ...m, devmajor: member.devmajor, devminor: member.devminor };
      case 'file':
        return { kind: 'file', inode: { ...m, size: member.size, content: member.content, names: 1, key: this.inodes++ } };
      case 'hardlink':
        return this.linkTo(member, m, rawName);
    }
  }

  private linkTo(member: Extract<Member, { type: 'hardlink' }>, m: MemberMeta, rawName: string): Node {
    const cleaned = cleanMemberName(member.linkname, this.archive, `hard link target`);
    const describe = `${this.archive}: hard link ${JSON.stringify(rawName)} -> ${JSON.stringify(member.linkname)}`;
    if (cleaned === '') {
      throw new HoistError('INVALID_HARDLINK', `${describe} points at the extraction root`, {
        hint: 'a hard link must name a file earlier in the same archive',
      });
    }
    const name = this.resolve(cleaned, false, member.linkname);
    const target = this.nodes.get(name);
    if (target === undefined || target.kind === 'implied') {
      throw new HoistError('INVALID_HARDLINK', `${describe}: the target is not an earlier member of the archive`, {
        hint: 'hoist extracts an ADDed archive on its own, without the files already in the image; recreate the archive so that every hard link points at a file it contains, listed before the link',
      });
    }
    switch (target.kind) {
      case 'dir':
        throw new HoistError('INVALID_HARDLINK', `${describe}: the target is a directory`, {
          hint: 'directories cannot be hard-linked; recreate the archive',
        });
      case 'file':
        // One inode: the link's header sets its owner, mode and times (as chown/chmod/chtimes on the new name do).
        Object.assign(target.inode, m);
        target.inode.names++;
        return { kind: 'file', inode: target.inode };
      case 'symlink':
        return { ...target, uid: m.uid, gid: m.gid };
      default:
        return { ...target, ...m };
    }
  }

  /**
   * `name` with every symlink on the way resolved (the last component only
   * when `followLeaf`), as a path inside the extraction root.
   */
  private resolve(name: string, followLeaf: boolean, rawName: string): string {
    const walk: RootWalk<Node | typeof ROOT> = {
      root: ROOT,
      child: (_parent, _name, path) => this.nodes.get(path),
      linkname: (node) => (node !== ROOT && node.kind === 'symlink' ? node.linkname : undefined),
    };
    return resolveInRoot(walk, name, {
      followFinal: followLeaf,
      onLoop: () =>
        new HoistError('ARCHIVE_SYMLINK_LOOP', `${this.archive}: too many symlinks while resolving archive member ${JSON.stringify(rawName)}`, {
          hint: 'the archive contains a symlink loop on the way to this member; recreate it',
        }),
    }).path;
  }

  private makeParents(name: string, rawName: string): void {
    // A node's parents were made with it and go only with it: when the parent is there, so is the rest.
    const slash = name.lastIndexOf('/');
    if (slash === -1) return;
    const parent = this.nodes.get(name.slice(0, slash));
    if (parent?.kind === 'dir' || parent?.kind === 'implied') return;
    for (let i = name.indexOf('/'); i !== -1; i = name.indexOf('/', i + 1)) {
      const dir = name.slice(0, i);
      const node = this.nodes.get(dir);
      if (node === undefined) {
        this.nodes.set(dir, { kind: 'implied' });
      } else if (node.kind !== 'dir' && node.kind !== 'implied') {
        throw new HoistError(
          'ARCHIVE_PARENT_NOT_DIRECTORY',
          `${this.archive}: archive member ${JSON.stringify(rawName)} needs ${JSON.stringify(dir)} to be a directory, but the archive made it a ${node.kind}`,
          { hint: 'the archive is inconsistent (a file and a directory share a name); recreate it' },
        );
      }
    }
  }

  private remove(name: string, node: Node): void {
    this.nodes.delete(name);
    if (node.kind === 'file') node.inode.names--;
    if (node.kind !== 'dir' && node.kind !== 'implied') return;
    const prefix = `${name}/`;
    for (const [key, child] of this.nodes) {
      if (!key.startsWith(prefix)) continue;
      this.nodes.delete(key);
      if (child.kind === 'file') child.inode.names--;
    }
  }
}

function meta(m: MemberMeta): MemberMeta {
  const out: MemberMeta = { mode: m.mode, uid: m.uid, gid: m.gid, mtime: m.mtime };
  if (m.xattrs !== undefined) out.xattrs = m.xattrs;
  return out;
}
