/**
 * Apply a step's upper dir onto the rootfs it was the overlay of, once the
 * overlay is unmounted, so that the next step, a COPY or a lookup of
 * /etc/passwd sees the stage as the step left it. The rootfs is the single
 * lower dir of every step (rather than a stack of lowers that grows with
 * each RUN), and the merge costs what the step changed: files, links and
 * whole new directories are renamed into place (the upper dir sits on the
 * rootfs's filesystem), a whiteout removes its path, an opaque directory
 * replaces the rootfs's, and a directory both have is merged entry by entry
 * and then given the upper one's mode, owner, attributes and times.
 * overlayfs's own attributes (`*.overlay.*`) never reach the rootfs.
 *
 * Paths in the rootfs are built from names the upper dir lists, and the merge
 * only descends into what lstat says is a real directory in both: nothing
 * is followed through a symlink.
 */
import { type BigIntStats, chmodSync, lchownSync, readdirSync, renameSync, rmSync, utimesSync } from 'node:fs';
import { HoistError } from '../../src/errors.js';
import { removeRootfs } from '../rootfs/remove.js';
import { lstatExact, S_IFDIR, S_IFMT, Slicer } from '../walk/scope.js';
import { overlayXattrNamesSync, readXattrsSync, removeXattrSync, writeXattrsSync } from '../xattrs.js';
import { isOpaque, isWhiteout } from './upper.js';

/** Moves what `upper` holds into `lower`, leaving `upper` with only whiteouts and emptied directories. */
export async function mergeUpper(upper: string, lower: string): Promise<void> {
  const slicer = new Slicer();
  try {
    await mergeDir(upper, lower, '', slicer);
  } catch (err) {
    if (err instanceof HoistError) throw err;
    const e = err as NodeJS.ErrnoException;
    throw new HoistError('SNAPSHOT_MERGE', `cannot apply the step's changes to the rootfs: ${e.code ?? String(err)}${e.path ? ` (${e.path})` : ''}`, {
      hint: 'a step left something hoist cannot move from outside the namespace (owner or permissions); build with --snapshot walk',
      cause: err,
    });
  }
}

async function mergeDir(upper: string, lower: string, rel: string, slicer: Slicer): Promise<void> {
  const u = rel === '' ? upper : `${upper}/${rel}`;
  const l = rel === '' ? lower : `${lower}/${rel}`;
  // Its metadata as the step left it, before it is opened up for the moves out of it.
  const want = lstatExact(u) ?? missing(u);
  openForOwner(u);
  openForOwner(l);
  for (const name of readdirSync(u)) {
    await slicer.maybeYield();
    const path = rel === '' ? name : `${rel}/${name}`;
    const from = `${u}/${name}`;
    const to = `${l}/${name}`;
    const st = lstatExact(from);
    if (st === undefined) continue;
    if (isWhiteout(st)) {
      await removeTree(to);
      continue;
    }
    const target = lstatExact(to);
    const isDir = (Number(st.mode) & S_IFMT) === S_IFDIR;
    const targetIsDir = target !== undefined && (Number(target.mode) & S_IFMT) === S_IFDIR;
    if (isDir && targetIsDir && !isOpaque(from)) {
      await mergeDir(upper, lower, path, slicer);
      continue;
    }
    // rename() replaces a non-directory in one step; a directory, or a file where a directory goes, must go first.
    if (target !== undefined && (targetIsDir || isDir)) await removeTree(to);
    if (isDir) {
      await cleanTree(from, slicer);
      moveDir(from, to, st);
    } else {
      stripOverlayXattrs(from);
      renameSync(from, to);
    }
  }
  copyDirMetadata(want, u, l, rel);
}

/** rm -rf; without root, a tree with 0555 directories of the image needs opening up first (removeRootfs does). */
async function removeTree(abs: string): Promise<void> {
  try {
    rmSync(abs, { recursive: true, force: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM') throw err;
    await removeRootfs(abs);
  }
}

/** A directory that moves in whole: no overlayfs attribute and no whiteout may come along (below a new or opaque directory they hide nothing). */
async function cleanTree(dir: string, slicer: Slicer): Promise<void> {
  stripOverlayXattrs(dir);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    await slicer.maybeYield();
    const abs = `${dir}/${entry.name}`;
    if (entry.isDirectory()) await cleanTree(abs, slicer);
    else if (entry.isCharacterDevice() && isWhiteout(lstatExact(abs) ?? missing(abs))) rmSync(abs);
    else stripOverlayXattrs(abs);
  }
}

/**
 * Without root, renaming into a directory needs write permission on it even
 * for its owner (a 0555 directory of the image); it gets its mode back from
 * copyDirMetadata once its entries are in.
 */
function openForOwner(dir: string): void {
  if (process.geteuid?.() === 0) return;
  const st = lstatExact(dir) ?? missing(dir);
  if ((st.mode & 0o700n) !== 0o700n) chmodSync(dir, Number((st.mode & 0o7777n) | 0o700n));
}

/** Without root, moving a directory to another parent needs write permission on it (its `..` changes). */
function moveDir(from: string, to: string, st: BigIntStats): void {
  const mode = Number(st.mode & 0o7777n);
  const closed = process.geteuid?.() !== 0 && (mode & 0o200) === 0;
  if (closed) chmodSync(from, mode | 0o200);
  renameSync(from, to);
  if (closed) chmodSync(to, mode);
}

function stripOverlayXattrs(abs: string): void {
  for (const name of overlayXattrNamesSync(abs)) removeXattrSync(abs, name);
}

/** Gives rootfs directory `l` the mode, owner, carried attributes and times of upper directory `u`. */
function copyDirMetadata(want: BigIntStats, u: string, l: string, rel: string): void {
  const have = lstatExact(l) ?? missing(l);
  try {
    if (have.uid !== want.uid || have.gid !== want.gid) lchownSync(l, Number(want.uid), Number(want.gid));
    // After chown, which clears setuid and setgid bits.
    chmodSync(l, Number(want.mode & 0o7777n));
    const wanted = readXattrsSync(u) ?? {};
    for (const name of Object.keys(readXattrsSync(l) ?? {})) if (!(name in wanted)) removeXattrSync(l, name);
    writeXattrsSync(l, wanted);
    utimesSync(l, nsToSeconds(want.atimeNs), nsToSeconds(want.mtimeNs));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new HoistError('SNAPSHOT_MERGE', `cannot apply the step's changes to /${rel} in the rootfs: ${code ?? String(err)}`, {
      hint: 'hoist cannot give this directory the owner or mode the step gave it from outside the user namespace; build with --snapshot walk',
      cause: err,
    });
  }
}

function nsToSeconds(ns: bigint): number {
  return Number(ns / 1000n) / 1e6;
}

function missing(abs: string): never {
  throw new HoistError('INTERNAL', `${abs} vanished while a step's changes were merged into the rootfs`);
}
