/**
 * Applying a stage's base layers to a directory on disk: the root
 * filesystem a RUN step executes in.
 *
 * Each layer is read with the one tar reader (src/tar) and applied as the
 * OCI image spec's changeset rules say, the way containerd's applier does:
 *
 * - Names are cleaned (`./a//b` -> `a/b`; an absolute name is taken inside
 *   the root, as Docker does); a name whose `..` would climb above the root
 *   is refused (UNSAFE_PATH).
 * - The parent of every entry is resolved inside the root with the one
 *   resolver (root-path.ts): a symlink on the way, made by a lower layer or
 *   by an earlier entry, is followed as a chroot would (an absolute target
 *   starts again from the root, `..` stops at it), so `lib/x` over
 *   `lib -> usr/lib` lands in `usr/lib/x` and `evil/x` over `evil -> /etc`
 *   lands in the rootfs's own `etc/x`. Every component of the resolved path
 *   was checked with lstat to be a real directory, and the final component
 *   is never followed: a file is created with O_EXCL|O_NOFOLLOW after
 *   whatever was there is removed, so no write goes through a symlink or
 *   into an inode a hard link shares. Missing parents are created (0755,
 *   0:0); a parent that is not a directory is PARENT_NOT_DIRECTORY.
 * - A directory over a directory merges (only its metadata changes); any
 *   other entry replaces what was there, a whole subtree included.
 * - `.wh.NAME` deletes NAME; `.wh..wh..opq` empties its directory. Both
 *   apply to lower layers only: what this layer itself wrote survives them,
 *   wherever the marker comes in the layer (containerd keeps the layer's
 *   unpacked paths for the same reason).
 * - A hard link may name a file of this layer or of a lower one; its target
 *   is resolved like a parent (inside the root) and must exist and not be a
 *   directory. Its header's owner, mode and mtime apply to the shared inode
 *   unless the target is a symlink, as in Docker's applier.
 * - Modes keep setuid, setgid and sticky (set after the owner, which would
 *   clear them); mtimes are set last, directories' at the end of the layer
 *   (their entries change them).
 * - Owners are set where hoist may (`privileged`, by default when running
 *   as root). Elsewhere, or where the kernel refuses (a user namespace with
 *   one uid), the entry keeps hoist's own uid and the summary lists every
 *   path whose owner in the image is not 0:0, for the layer writer.
 * - Devices are made with the `mknod` command (Node cannot) when privileged,
 *   and skipped with a note otherwise or when the kernel refuses; FIFOs with
 *   `mkfifo`. Extended attributes (snapshot/xattrs.ts) are set after the
 *   owner, all carried ones when privileged and only `user.*` otherwise;
 *   what the filesystem refuses is skipped with a note.
 * - Unprivileged, a directory without owner write/search permission is
 *   opened up while the layer writes into it and given its mode back at the
 *   end of the layer.
 *
 * Syscalls on the rootfs are synchronous (lstat, open, write, fchown...):
 * each is a few microseconds on a local disk, and a round trip through
 * libuv's thread pool per call made small files several times slower. The
 * event loop still turns between entries, as the layer is read.
 *
 * Memory: file content streams to disk; what is kept per layer is the set
 * of paths it wrote (for whiteouts) and its directories' final metadata.
 * Time is linear in the entries: the resolver's lookups along the chain of
 * directories of the previous entry are answered without a syscall, so a
 * layer in walk order costs one lstat per new directory.
 */
import { spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  symlinkSync,
  unlinkSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { lstat } from 'node:fs/promises';
import { HoistError } from '../../src/errors.js';
import { errnoOf, fsError } from '../../src/fs-errors.js';
import { isTarError, readTar, type TarEntry, type TarEntryHeader } from '../../src/tar/index.js';
import { OPAQUE_MARKER, WHITEOUT_PREFIX } from '../layer-entry.js';
import { cleanPath } from '../root-path.js';
import { DiskDirs, lstatOrUndefined, type DiskNode } from './disk-dirs.js';
import { openLayerTar, type LayerInput } from './layer-input.js';
import { removeRootfs } from './remove.js';
import { carriedXattrs, writeXattrsSync } from '../xattrs.js';

export type { LayerInput } from './layer-input.js';

export interface ApplyOptions {
  signal?: AbortSignal;
  /**
   * Set owners and make device nodes. Default: hoist runs as root. Without
   * it, owners are recorded in the summary and devices are skipped.
   */
  privileged?: boolean;
}

export interface Owner {
  uid: number;
  gid: number;
}

export interface SkipNote {
  /** Path inside the root, as the layer names it (cleaned). */
  path: string;
  reason: 'device' | 'xattrs';
  detail: string;
}

export interface ApplySummary {
  layers: number;
  /** Tar members applied, whiteout markers included. */
  entries: number;
  skippedDevices: number;
  skippedXattrs: number;
  /** The first MAX_NOTES skips, for the build output. */
  notes: SkipNote[];
  /** Every owner in the image is the owner on disk. */
  ownersApplied: boolean;
  /**
   * When owners could not all be set: canonical path (no leading `/`) ->
   * owner in the image, for every existing path whose owner is not 0:0.
   * Any other path belongs to 0:0 in the image.
   */
  intendedOwners: Map<string, Owner>;
  /** Canonical path -> the carried attributes its layer gives it that could not be set on disk (hoist unprivileged). */
  unsetXattrs: Map<string, Record<string, Buffer>>;
  /** lstat calls made to resolve paths (a measure of the work, for tests and benchmarks). */
  lookups: number;
}

export const MAX_NOTES = 50;

/** Apply `layers` (bottom first) to the existing directory `rootDir`. */
export async function applyLayers(
  rootDir: string,
  layers: Iterable<LayerInput> | AsyncIterable<LayerInput>,
  opts: ApplyOptions = {},
): Promise<ApplySummary> {
  const root = rootDir.replace(/\/+$/, '') || '/';
  const st = await lstat(root).catch((err: unknown) => {
    throw fsError(err, root, 'unpack layers into');
  });
  if (!st.isDirectory()) {
    throw new HoistError('FS_NOT_A_DIRECTORY', `cannot unpack layers into ${root}: it is not a directory`, { hint: 'give an existing directory' });
  }
  const applier = new RootfsApplier(root, st, opts);
  let index = 0;
  for await (const input of layers) {
    opts.signal?.throwIfAborted();
    index++;
    await applier.applyLayer(input, index);
  }
  return applier.finish(index);
}

interface DirFixup {
  depth: number;
  /** Final mode; undefined to leave it. */
  mode?: number;
  /** Seconds; undefined to leave it. */
  mtime?: number;
}

const OWNER_RWX = 0o700;
/** Longer entry names are cut in error messages (a hostile layer may name 40 KB). */
const MAX_NAME_IN_MESSAGE = 200;
const PERMS = 0o7777;
/** Linux's PATH_MAX, the terminating NUL included. */
const PATH_MAX = 4096;

class RootfsApplier {
  private readonly dirs: DiskDirs;
  private readonly privileged: boolean;
  private readonly signal: AbortSignal | undefined;
  private layerIndex = 0;
  private entryName = '';
  /** Canonical paths this layer wrote: whiteouts and opaque markers spare them. */
  private written = new Set<string>();
  /** Directories whose mode or mtime is set at the end of the layer. */
  private fixups = new Map<string, DirFixup>();
  private readonly summary: ApplySummary = {
    layers: 0,
    entries: 0,
    skippedDevices: 0,
    skippedXattrs: 0,
    notes: [],
    ownersApplied: true,
    intendedOwners: new Map(),
    unsetXattrs: new Map(),
    lookups: 0,
  };

  constructor(
    private readonly root: string,
    rootStat: Stats,
    opts: ApplyOptions,
  ) {
    this.privileged = opts.privileged ?? process.getuid?.() === 0;
    this.signal = opts.signal;
    this.dirs = new DiskDirs(rootStat.mode, {
      abs: (path) => this.abs(path),
      checkLength: (path) => this.checkLength(path),
      counted: () => this.summary.lookups++,
      openUp: (dir) => {
        if (this.privileged || (dir.mode & OWNER_RWX) === OWNER_RWX) return false;
        this.writable(dir);
        return true;
      },
    });
  }

  async applyLayer(input: LayerInput, index: number): Promise<void> {
    this.layerIndex = index;
    this.entryName = '';
    this.written = new Set();
    this.fixups = new Map();
    try {
      for await (const entry of readTar(await openLayerTar(input))) {
        this.signal?.throwIfAborted();
        this.entryName = entry.header.name;
        await this.applyEntry(entry);
        this.summary.entries++;
      }
      this.entryName = '';
      this.applyFixups();
    } catch (err) {
      throw this.located(err);
    }
    this.summary.layers++;
  }

  async finish(layers: number): Promise<ApplySummary> {
    // Drop owners and attributes recorded for paths a later layer removed.
    for (const byPath of [this.summary.intendedOwners, this.summary.unsetXattrs]) {
      for (const path of [...byPath.keys()]) {
        if ((await lstat(this.abs(path)).catch(() => undefined)) === undefined) byPath.delete(path);
      }
    }
    this.summary.layers = layers;
    return this.summary;
  }

  private located(err: unknown): unknown {
    if (this.signal?.aborted === true && err === this.signal.reason) return err;
    const name = this.entryName.length > MAX_NAME_IN_MESSAGE ? `${this.entryName.slice(0, MAX_NAME_IN_MESSAGE)}...` : this.entryName;
    const where = name === '' ? `layer ${this.layerIndex}` : `layer ${this.layerIndex}, entry ${JSON.stringify(name)}`;
    if (err instanceof HoistError) {
      return new HoistError(err.code, `${where}: ${err.message}`, { ...(err.hint === undefined ? {} : { hint: err.hint }), cause: err });
    }
    if (isTarError(err) || errnoOf(err) === undefined) {
      const why = err instanceof Error ? err.message : String(err);
      return new HoistError('BAD_LAYER', `${where}: the layer is not a readable tar: ${why}`, {
        hint: 'the image is damaged or not an OCI/Docker image; pull it again or rebuild it',
        cause: err,
      });
    }
    return fsError(err, this.root, `unpack ${where} into`);
  }

  private abs(path: string): string {
    return path === '' ? this.root : this.root === '/' ? `/${path}` : `${this.root}/${path}`;
  }

  /** The kernel refuses longer paths (ENAMETOOLONG); say so before making directories that lead nowhere. */
  private checkLength(path: string): void {
    const bytes = Buffer.byteLength(this.abs(path));
    if (bytes < PATH_MAX) return;
    throw new HoistError('FS_NAME_TOO_LONG', `the path is ${bytes} bytes long inside ${this.root}; Linux allows ${PATH_MAX - 1}`, {
      hint: 'the layer names a path too deep to unpack; unpack the rootfs closer to / (a shorter --cache-dir) or rebuild the image with shorter paths',
    });
  }

  /**
   * The directory `path` names, parents resolved inside the root and a final
   * symlink followed; missing directories are created (0755, root's) when `create`.
   */
  private directory(path: string, create: boolean): DiskNode | undefined {
    return this.dirs.directory(path, create ? (parent, made) => this.makeParent(parent, made) : undefined);
  }

  /** A missing parent directory `path` in `parent`: 0755 whatever the umask, root's. */
  private makeParent(parent: DiskNode, path: string): void {
    this.keepTime(parent);
    this.writable(parent);
    mkdirSync(this.abs(path), { mode: 0o700 });
    this.own(path, { uid: 0, gid: 0 });
    chmodSync(this.abs(path), 0o755);
  }

  /**
   * A directory the layer changes without naming it keeps its mtime (as
   * umoci does): creating or removing an entry in it would set it to now,
   * so the same image would unpack to different trees from run to run.
   */
  private keepTime(dir: DiskNode): void {
    const fix = this.fixups.get(dir.path);
    if (fix?.mtime !== undefined) return;
    const mtime = lstatSync(this.abs(dir.path)).mtimeMs / 1000;
    if (fix === undefined) this.fixups.set(dir.path, { depth: dir.depth, mtime });
    else fix.mtime = mtime;
  }

  /** Unprivileged: make sure entries can be made in `dir`, restoring its mode at the end of the layer. */
  private writable(dir: DiskNode): void {
    if (this.privileged || (dir.mode & OWNER_RWX) === OWNER_RWX) return;
    const fix = this.fixups.get(dir.path);
    if (fix === undefined) this.fixups.set(dir.path, { depth: dir.depth, mode: dir.mode });
    else fix.mode ??= dir.mode;
    chmodSync(this.abs(dir.path), dir.mode | 0o700);
    dir.mode |= 0o700;
  }

  // --- entries ------------------------------------------------------------

  private async applyEntry(entry: TarEntry): Promise<void> {
    const h = entry.header;
    const { path, climbed } = cleanPath(h.name);
    if (climbed) {
      throw new HoistError('UNSAFE_PATH', `the name leaves the root filesystem`, {
        hint: 'the layer is malformed or hostile; hoist refuses to unpack names that climb above the root with ..',
      });
    }
    if (path === '') {
      if (h.type === 'dir') this.rootMetadata(h);
      return;
    }
    const slash = path.lastIndexOf('/');
    const parentPath = slash === -1 ? '' : path.slice(0, slash);
    const base = path.slice(slash + 1);
    if (base === OPAQUE_MARKER) return this.opaque(parentPath);
    if (base.startsWith(WHITEOUT_PREFIX)) return this.whiteout(parentPath, base.slice(WHITEOUT_PREFIX.length));
    if (h.type === 'other') {
      throw new HoistError('UNSUPPORTED_ENTRY', `tar member type ${JSON.stringify(h.typeflag)} cannot be unpacked`, {
        hint: 'the layer holds a sparse file or another member type hoist does not support; rebuild the image without it',
      });
    }

    // A hard link's target is found before anything at the entry's own path is removed.
    const target = h.type === 'link' ? this.linkTarget(h.linkname, path) : undefined;
    const parent = this.directory(parentPath, true) as DiskNode;
    const full = parent.path === '' ? base : `${parent.path}/${base}`;
    const abs = this.abs(full);
    this.checkLength(full);
    this.keepTime(parent);
    this.writable(parent);
    this.summary.lookups++;
    const existing = lstatOrUndefined(abs);
    if (existing !== undefined && !(h.type === 'dir' && existing.isDirectory())) {
      this.dirs.forget(full, parent.depth + 1);
      await removePath(abs, existing);
    }
    this.written.add(full);
    // A file this layer writes again has only the attributes it gives now.
    this.summary.unsetXattrs.delete(full);
    await this.make(entry, path, full, parent, existing?.isDirectory() === true, target);
    // After the owner: chown clears security.capability.
    if (h.xattrs !== undefined && Object.keys(h.xattrs).length > 0) this.setXattrs(path, full, h.xattrs);
  }

  /** Makes the entry at `full` (its parent ready, nothing else in the way) with its owner, mode and mtime. */
  private async make(
    entry: TarEntry,
    path: string,
    full: string,
    parent: DiskNode,
    merge: boolean,
    target: { abs: string; stat: Stats } | undefined,
  ): Promise<void> {
    const h = entry.header;
    const abs = this.abs(full);
    const mode = h.mode & PERMS;
    switch (h.type) {
      case 'dir':
        return this.dir(h, full, parent, merge);
      case 'file':
        return this.file(entry, full, mode);
      case 'symlink':
        symlinkSync(h.linkname, abs);
        this.own(full, h);
        lutimesSync(abs, h.mtime, h.mtime);
        return;
      case 'link': {
        const t = target as { abs: string; stat: Stats };
        linkSync(t.abs, abs);
        if (t.stat.isSymbolicLink()) return;
        this.own(full, h);
        chmodSync(abs, mode);
        lutimesSync(abs, h.mtime, h.mtime);
        return;
      }
      case 'fifo':
        await run('mkfifo', ['-m', mode.toString(8), abs]).catch((err: unknown) => {
          throw new HoistError('FS_CANNOT_CREATE', `cannot make the FIFO ${abs}: ${err instanceof Error ? err.message : String(err)}`, {
            hint: 'hoist makes FIFOs with the mkfifo command (coreutils); install it',
            cause: err,
          });
        });
        return this.finishSpecial(full, h, mode);
      case 'char-device':
      case 'block-device': {
        const kind = h.type === 'char-device' ? 'c' : 'b';
        const dev = `${kind} ${h.devmajor}:${h.devminor}`;
        if (!this.privileged) return this.skipDevice(path, `device ${dev} not made: hoist is not running as root`);
        try {
          await run('mknod', ['-m', mode.toString(8), abs, kind, String(h.devmajor), String(h.devminor)]);
        } catch (err) {
          return this.skipDevice(path, `device ${dev} not made: ${err instanceof Error ? err.message : String(err)}`);
        }
        return this.finishSpecial(full, h, mode);
      }
    }
  }

  private rootMetadata(h: TarEntryHeader): void {
    this.own('', h);
    const mode = h.mode & PERMS;
    this.setDirFixup(this.dirs.root, mode, h.mtime);
  }

  private dir(h: TarEntryHeader, full: string, parent: DiskNode, merge: boolean): void {
    const abs = this.abs(full);
    if (!merge) mkdirSync(abs, { mode: 0o700 });
    this.own(full, h);
    this.setDirFixup(this.dirs.entered(parent, full, 0o700), h.mode & PERMS, h.mtime);
  }

  /** The directory's mode now (privileged, or opened up for writing) and its final mode and mtime at the end of the layer. */
  private setDirFixup(node: DiskNode, mode: number, mtime: number): void {
    const now = this.privileged ? mode : mode | 0o700;
    chmodSync(this.abs(node.path), now);
    node.mode = now;
    this.fixups.delete(node.path);
    this.fixups.set(node.path, { depth: node.depth, mode, mtime });
  }

  private async file(entry: TarEntry, full: string, mode: number): Promise<void> {
    const h = entry.header;
    const fd = openSync(this.abs(full), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      for await (const chunk of entry.body) {
        this.signal?.throwIfAborted();
        let off = 0;
        while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
      }
      if (this.canChown(full, h)) {
        try {
          fchownSync(fd, h.uid, h.gid);
        } catch (err) {
          this.ownerRefused(full, h, err);
        }
      }
      fchmodSync(fd, mode);
      futimesSync(fd, h.mtime, h.mtime);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * The entry's extended attributes, in the namespaces layers carry. Unprivileged,
   * only `user.*` (capabilities and `trusted.*` need privileges, and would
   * mean something else on files hoist could not give their owners); what
   * the filesystem refuses is skipped with a note, never a failure.
   */
  private setXattrs(path: string, full: string, xattrs: Readonly<Record<string, Uint8Array>>): void {
    const abs = this.abs(full);
    if (lstatOrUndefined(abs) === undefined) return; // a device that was not made
    const wanted = carriedXattrs(xattrs) ?? {};
    const names = Object.keys(wanted);
    const allowed = this.privileged ? names : names.filter((n) => n.startsWith('user.'));
    const refusedNames = names.filter((n) => !allowed.includes(n));
    const refused: string[] = refusedNames.map((n) => `${n} (hoist is not running as root)`);
    const set: Record<string, Uint8Array> = {};
    for (const n of allowed) set[n] = wanted[n] as Uint8Array;
    for (const r of writeXattrsSync(abs, set)) {
      refused.push(`${r.name} (${r.reason})`);
      refusedNames.push(r.name);
    }
    if (refused.length === 0) {
      this.summary.unsetXattrs.delete(full);
      return;
    }
    // The image still has them: StageRootfs gives them to what reads the file (a later layer, COPY --from).
    this.summary.unsetXattrs.set(full, Object.fromEntries(refusedNames.sort().map((n) => [n, Buffer.from(wanted[n] as Uint8Array)])));
    this.summary.skippedXattrs++;
    this.note({ path, reason: 'xattrs', detail: `extended attributes not set: ${refused.join(', ')}` });
  }

  private finishSpecial(full: string, h: TarEntryHeader, mode: number): void {
    this.own(full, h);
    chmodSync(this.abs(full), mode);
    lutimesSync(this.abs(full), h.mtime, h.mtime);
  }

  private skipDevice(path: string, detail: string): void {
    this.summary.skippedDevices++;
    this.note({ path, reason: 'device', detail });
  }

  private note(n: SkipNote): void {
    if (this.summary.notes.length < MAX_NOTES) this.summary.notes.push(n);
  }

  // --- owners -------------------------------------------------------------

  /** Whether to try chown; records the intended owner when not. */
  private canChown(full: string, o: Owner): boolean {
    if (this.privileged) return true;
    this.record(full, o);
    return false;
  }

  private record(full: string, o: Owner): void {
    this.summary.ownersApplied = false;
    if (o.uid === 0 && o.gid === 0) this.summary.intendedOwners.delete(full);
    else this.summary.intendedOwners.set(full, { uid: o.uid, gid: o.gid });
  }

  private ownerRefused(full: string, o: Owner, err: unknown): void {
    const errno = errnoOf(err);
    // EINVAL: the id is not mapped in this user namespace.
    if (errno !== 'EPERM' && errno !== 'EINVAL') throw err;
    this.record(full, o);
  }

  /** lchown (never follows a final symlink). */
  private own(full: string, o: Owner): void {
    if (!this.canChown(full, o)) return;
    try {
      lchownSync(this.abs(full), o.uid, o.gid);
    } catch (err) {
      this.ownerRefused(full, o, err);
    }
  }

  // --- links, whiteouts ---------------------------------------------------

  private linkTarget(linkname: string, path: string): { abs: string; stat: Stats } {
    const { path: target, climbed } = cleanPath(linkname);
    if (climbed || target === '') {
      throw new HoistError('UNSAFE_PATH', `hard link target ${JSON.stringify(linkname)} is outside the root filesystem`, {
        hint: 'the layer is malformed or hostile; a hard link must name a file inside the image',
      });
    }
    const slash = target.lastIndexOf('/');
    const dir = this.dirs.resolveQuietly(slash === -1 ? '' : target.slice(0, slash));
    if (dir !== undefined) this.writable(dir);
    const canonical = dir === undefined ? undefined : dir.path === '' ? target.slice(slash + 1) : `${dir.path}/${target.slice(slash + 1)}`;
    this.summary.lookups++;
    const stat = canonical === undefined ? undefined : lstatOrUndefined(this.abs(canonical));
    if (canonical === undefined || stat === undefined) {
      throw new HoistError('INVALID_HARDLINK', `hard link target ${JSON.stringify(linkname)} does not exist`, {
        hint: 'the layer is damaged, or its lower layers are missing: a hard link must name a file of this layer or of a layer below',
      });
    }
    if (stat.isDirectory()) throw new HoistError('INVALID_HARDLINK', `hard link target ${JSON.stringify(linkname)} is a directory`);
    if (canonical === cleanPath(path).path) throw new HoistError('INVALID_HARDLINK', `${path} is a hard link to itself`);
    return { abs: this.abs(canonical), stat };
  }

  private async whiteout(parentPath: string, name: string): Promise<void> {
    if (name === '' || name === '.' || name === '..') {
      throw new HoistError('UNSAFE_PATH', `whiteout of ${JSON.stringify(name)} names no file`, {
        hint: 'the layer is malformed or hostile; a whiteout must name a file, as .wh.NAME',
      });
    }
    let dir: DiskNode | undefined;
    try {
      dir = this.directory(parentPath, false);
    } catch (err) {
      // Nothing to delete below a file.
      if (err instanceof HoistError && err.code === 'PARENT_NOT_DIRECTORY') return;
      throw err;
    }
    if (dir === undefined) return;
    const full = dir.path === '' ? name : `${dir.path}/${name}`;
    if (this.written.has(full)) return;
    this.keepTime(dir);
    this.writable(dir);
    this.summary.lookups++;
    const st = lstatOrUndefined(this.abs(full));
    if (st === undefined) return;
    this.dirs.forget(full, dir.depth + 1);
    await removePath(this.abs(full), st);
  }

  private async opaque(dirPath: string): Promise<void> {
    const dir = this.directory(dirPath, true);
    if (dir === undefined) return;
    this.dirs.keepUpTo(dir);
    // Everything below that this layer did not write goes; what it wrote stays, with what it wrote below it.
    const pending: Array<{ path: string; depth: number }> = [{ path: dir.path, depth: dir.depth }];
    for (let d = pending.pop(); d !== undefined; d = pending.pop()) {
      this.writableAt(d.path, d.depth);
      const names = readdirSync(this.abs(d.path));
      for (const name of names) {
        const full = d.path === '' ? name : `${d.path}/${name}`;
        const st = lstatSync(this.abs(full));
        if (!this.written.has(full)) {
          await removePath(this.abs(full), st);
        } else if (st.isDirectory()) {
          pending.push({ path: full, depth: d.depth + 1 });
        }
      }
    }
  }

  private writableAt(path: string, depth: number): void {
    if (this.privileged) return;
    const st = lstatSync(this.abs(path));
    this.writable({ name: '', parent: undefined, depth, path, kind: 'dir', mode: st.mode & PERMS });
  }

  private applyFixups(): void {
    // Deepest first: an unprivileged applier must still reach a directory below one it closes.
    const fixes = [...this.fixups].sort((a, b) => b[1].depth - a[1].depth);
    for (const [path, fix] of fixes) {
      const abs = this.abs(path);
      const st = lstatOrUndefined(abs);
      if (st === undefined || !st.isDirectory()) continue;
      if (fix.mode !== undefined) chmodSync(abs, fix.mode);
      if (fix.mtime !== undefined) lutimesSync(abs, fix.mtime, fix.mtime);
    }
    for (const node of this.dirs.cached()) {
      const fix = this.fixups.get(node.path);
      if (fix?.mode !== undefined) node.mode = fix.mode;
    }
    this.fixups = new Map();
  }
}

async function removePath(abs: string, st: Stats): Promise<void> {
  if (st.isDirectory()) await removeRootfs(abs);
  else unlinkSync(abs);
}

/** Run a small command (mknod, mkfifo); rejects with its stderr when it fails. */
function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    const err: Buffer[] = [];
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (status) => {
      if (status === 0) resolve();
      else reject(new Error(`${command} exited with ${status}: ${Buffer.concat(err).toString('utf8').trim()}`));
    });
  });
}
