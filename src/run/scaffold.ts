import { spawn } from 'node:child_process';
import { chmod, copyFile, lstat, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { HoistError } from '../errors.js';

const LINK_HINT = 'the image has a symlink or a file where a directory is expected; a runner never follows links out of the rootfs';

/** A path inside the rootfs that a runner may not use: a symlink or a non-directory on the way, or a directory where a file goes. */
export class UnsafeMountpointError extends HoistError {
  constructor(rel: string, why: string, hint = LINK_HINT) {
    super('RUN_MOUNTPOINT', `cannot prepare ${path.posix.join('/', rel)} in the root filesystem for the step: ${why}`, { hint });
  }

  /** A file mount (a secret, a socket, a bound file) whose target is a directory of the image. */
  static fileOnDirectory(rel: string): UnsafeMountpointError {
    return new UnsafeMountpointError(
      rel,
      `a file goes there (a secret, an SSH agent's socket or a bound file), and ${path.posix.join('/', rel)} is a directory in the image`,
      'give the mount a target that is a file path, e.g. target=/run/secrets/NAME, or leave target out',
    );
  }
}

type Kind = 'dir' | 'file';

function runTool(command: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], env: {} });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${path.basename(command)} ${args.join(' ')}: ${err.trim() || `exit ${code}`}`)),
    );
  });
}

/**
 * What a runner adds to a rootfs for one step (mount points, device nodes,
 * resolv.conf), recorded so that `undo` leaves the rootfs exactly as it was:
 * what was created is removed, and the directories it was created in get
 * their modification time back (to the nanosecond, so a stat-walk
 * snapshot sees no change). Nothing already in the rootfs is ever changed.
 */
export class RootfsScaffold {
  /** What was made (removed at undo) and what was moved aside (put back), in order. */
  private readonly journal: ({ made: string; keepIfUsed?: boolean } | { hidden: string; aside: string })[] = [];
  /**
   * Directory -> its mtime before anything was created in it (as `touch -d`
   * takes it), and as the step found it (set by `seal`).
   */
  private readonly parentTimes = new Map<string, { before: string; sealed?: string }>();

  constructor(
    private readonly rootfs: string,
    private readonly touch: string,
  ) {}

  /**
   * Make sure `/rel` exists as a `kind`, creating it (and missing parents) if
   * needed. Returns the absolute host path. `keepUsed`: directories made on
   * the way (`parents`; `all`: `/rel` too) are left at undo where the step
   * put something in them, as the step's own. Throws UnsafeMountpointError where
   * a symlink or a wrong type is on the way (a mount there could land outside
   * the rootfs).
   */
  async ensure(rel: string, kind: Kind, opts: { keepUsed?: 'parents' | 'all' } = {}): Promise<string> {
    const parts = rel.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.includes('..')) throw new UnsafeMountpointError(rel, 'the path has a ".." component');
    let current = this.rootfs;
    for (const [i, name] of parts.entries()) {
      const next = path.join(current, name);
      const last = i === parts.length - 1;
      const want: Kind = last ? kind : 'dir';
      const st = await lstat(next).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return undefined;
        throw e;
      });
      if (st === undefined) {
        await this.rememberParent(current);
        // Modes set after creation: hoist's umask must not take bits off what the step sees (and may keep).
        if (want === 'dir') await mkdir(next);
        else await writeFile(next, '', { flag: 'wx' });
        await chmod(next, want === 'dir' ? 0o755 : 0o644);
        // A parent made for a mount point is the step's too: what it writes there stays, and so does the parent.
        const keep = opts.keepUsed === 'all' || (opts.keepUsed === 'parents' && !last);
        this.journal.push(keep && want === 'dir' ? { made: next, keepIfUsed: true } : { made: next });
        // A new directory's own mtime needs no restoring: it is removed again.
        this.parentTimes.delete(next);
      } else if (st.isSymbolicLink()) {
        throw new UnsafeMountpointError(rel, `/${parts.slice(0, i + 1).join('/')} is a symbolic link`);
      } else if (want === 'file' && st.isDirectory()) {
        throw UnsafeMountpointError.fileOnDirectory(rel);
      } else if (want === 'dir' && !st.isDirectory()) {
        throw new UnsafeMountpointError(rel, `/${parts.slice(0, i + 1).join('/')} is not a directory`);
      }
      current = next;
    }
    return current;
  }

  /** Whether `/rel` exists (as anything, symlinks not followed). */
  async exists(rel: string): Promise<boolean> {
    return lstat(path.join(this.rootfs, rel)).then(
      () => true,
      () => false,
    );
  }

  /** Create a file `/rel` (its parent must exist) with a copy of the host file `source`. */
  async copyIn(source: string, rel: string): Promise<void> {
    const dest = path.join(this.rootfs, rel);
    await this.rememberParent(path.dirname(dest));
    await copyFile(source, dest, 0 /* no COPYFILE_EXCL needed: caller checked absence */);
    this.journal.push({ made: dest });
  }

  /** Make the character device `/rel` (its parent must exist) with `mknod`. */
  async mknod(mknod: string, rel: string, major: number, minor: number): Promise<void> {
    const dest = path.join(this.rootfs, rel);
    await this.rememberParent(path.dirname(dest));
    await runTool(mknod, ['-m', '666', dest, 'c', String(major), String(minor)]);
    this.journal.push({ made: dest });
  }

  /**
   * Move what is at `/rel` (if anything) into the directory `asideDir` (on
   * the rootfs's filesystem) until undo puts it back, so that a mount's
   * stand-in can take its place; its parents must be directories.
   */
  async hide(rel: string, asideDir: string): Promise<void> {
    const parent = await this.ensure(path.dirname(`/${rel}`), 'dir', { keepUsed: 'all' });
    const abs = path.join(parent, path.basename(`/${rel}`));
    if (!(await lstat(abs).then(() => true, () => false))) return;
    const aside = path.join(asideDir, String(this.journal.length));
    await this.rememberParent(parent);
    await rename(abs, aside);
    this.journal.push({ hidden: abs, aside });
  }

  /**
   * A path `/rel` for the caller to create (its parents are made if
   * missing): removed at undo like everything made here. Throws if
   * something is there already.
   */
  async claim(rel: string): Promise<string> {
    const parent = await this.ensure(path.dirname(`/${rel}`), 'dir', { keepUsed: 'all' });
    const abs = path.join(parent, path.basename(`/${rel}`));
    if (await lstat(abs).then(() => true, () => false)) throw new UnsafeMountpointError(rel, 'something is there already');
    await this.rememberParent(parent);
    this.journal.push({ made: abs });
    return abs;
  }

  /**
   * Remove what was created, newest first, and give the parent directories
   * their times back where the step left them alone (a directory the step
   * changed keeps its new time). A path whose parents the step replaced with
   * a symlink is left alone: removing through it could reach the host.
   */
  async undo(): Promise<void> {
    const changedByStep = new Set<string>();
    for (const [dir, t] of this.parentTimes) {
      if (t.sealed !== undefined && (await this.reachableWithoutLinks(dir)) && (await mtimeOf(dir)) !== t.sealed) changedByStep.add(dir);
    }
    for (const entry of this.journal.splice(0).reverse()) {
      if ('made' in entry) {
        if (!(await this.reachableWithoutLinks(path.dirname(entry.made)))) continue;
        if (entry.keepIfUsed === true && (await readdir(entry.made).catch(() => [])).length > 0) {
          changedByStep.add(path.dirname(entry.made));
          continue;
        }
        await rm(entry.made, { recursive: true, force: true });
      } else if (await this.reachableWithoutLinks(path.dirname(entry.hidden))) {
        await rm(entry.hidden, { recursive: true, force: true });
        await rename(entry.aside, entry.hidden);
      }
    }
    for (const [dir, t] of this.parentTimes) {
      if (changedByStep.has(dir) || !(await this.reachableWithoutLinks(dir))) continue;
      await runTool(this.touch, ['-c', '-m', '-d', t.before, dir]);
    }
    this.parentTimes.clear();
  }

  /**
   * Note each parent's time as the step finds it, once everything is made:
   * call right before the step runs. At undo, a parent whose time moved on
   * since then was changed by the step and keeps its time.
   */
  async seal(): Promise<void> {
    for (const [dir, t] of this.parentTimes) t.sealed = await mtimeOf(dir);
  }

  /** Whether `dir` (inside the rootfs) is still a real directory reached through no symlink. */
  private reachableWithoutLinks(dir: string): Promise<boolean> {
    return realDirectoriesTo(this.rootfs, dir);
  }

  private async rememberParent(dir: string): Promise<void> {
    if (this.parentTimes.has(dir) || this.journal.some((e) => 'made' in e && e.made === dir)) return;
    this.parentTimes.set(dir, { before: await mtimeOf(dir) });
  }
}

/** Scaffolds over bind sources (mount points of nested mounts are made there), undone with the rootfs's. */
export class SourceScaffolds {
  private readonly byRoot = new Map<string, RootfsScaffold>();
  constructor(private readonly touch: string) {}

  of(root: string): RootfsScaffold {
    let s = this.byRoot.get(root);
    if (s === undefined) {
      s = new RootfsScaffold(root, this.touch);
      this.byRoot.set(root, s);
    }
    return s;
  }

  async undo(): Promise<void> {
    for (const s of [...this.byRoot.values()].reverse()) await s.undo();
  }
}

/** A directory's mtime to the nanosecond, as `touch -d` takes it. */
async function mtimeOf(dir: string): Promise<string> {
  const ns = (await lstat(dir, { bigint: true })).mtimeNs;
  return `@${ns / 1_000_000_000n}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}`;
}

/** Whether `dir` is `root` or below it, each directory on the way from `root` a real one (no link, nothing else). */
export async function realDirectoriesTo(root: string, dir: string): Promise<boolean> {
  const rel = path.relative(root, dir);
  if (rel.startsWith('..') || path.isAbsolute(rel)) return false;
  let current = root;
  for (const name of rel.split(path.sep).filter((n) => n !== '')) {
    current = path.join(current, name);
    const st = await lstat(current).catch(() => undefined);
    if (st === undefined || !st.isDirectory()) return false;
  }
  return true;
}
