import { spawn } from 'node:child_process';
import { copyFile, lstat, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { HoistError } from '../errors.js';

/** A path inside the rootfs that a runner may not use: a symlink or a non-directory on the way. */
export class UnsafeMountpointError extends HoistError {
  constructor(rel: string, why: string) {
    super('RUN_MOUNTPOINT', `cannot prepare /${rel} in the root filesystem for the step: ${why}`, {
      hint: 'the image has a symlink or a file where a directory is expected; a runner never follows links out of the rootfs',
    });
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
  private readonly created: string[] = [];
  /** Directory -> its mtime before anything was created in it, as `touch -d` takes it. */
  private readonly parentTimes = new Map<string, string>();

  constructor(
    private readonly rootfs: string,
    private readonly touch: string,
  ) {}

  /**
   * Make sure `/rel` exists as a `kind`, creating it (and missing parents) if
   * needed. Returns the absolute host path. Throws UnsafeMountpointError where
   * a symlink or a wrong type is on the way (a mount there could land outside
   * the rootfs).
   */
  async ensure(rel: string, kind: Kind): Promise<string> {
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
        if (want === 'dir') await mkdir(next, { mode: 0o755 });
        else await writeFile(next, '', { mode: 0o644, flag: 'wx' });
        this.created.push(next);
        // A new directory's own mtime needs no restoring: it is removed again.
        this.parentTimes.delete(next);
      } else if (st.isSymbolicLink()) {
        throw new UnsafeMountpointError(rel, `/${parts.slice(0, i + 1).join('/')} is a symbolic link`);
      } else if (want === 'dir' ? !st.isDirectory() : st.isDirectory()) {
        throw new UnsafeMountpointError(rel, `/${parts.slice(0, i + 1).join('/')} is ${st.isDirectory() ? 'a directory' : 'not a directory'}`);
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
    this.created.push(dest);
  }

  /** Make the character device `/rel` (its parent must exist) with `mknod`. */
  async mknod(mknod: string, rel: string, major: number, minor: number): Promise<void> {
    const dest = path.join(this.rootfs, rel);
    await this.rememberParent(path.dirname(dest));
    await runTool(mknod, ['-m', '666', dest, 'c', String(major), String(minor)]);
    this.created.push(dest);
  }

  /** Remove what was created, newest first, and give the parent directories their times back. */
  async undo(): Promise<void> {
    for (const p of this.created.splice(0).reverse()) await rm(p, { recursive: true, force: true });
    for (const [dir, time] of this.parentTimes) await runTool(this.touch, ['-c', '-m', '-d', time, dir]);
    this.parentTimes.clear();
  }

  private async rememberParent(dir: string): Promise<void> {
    if (this.parentTimes.has(dir) || this.created.includes(dir)) return;
    const st = await lstat(dir, { bigint: true });
    const ns = st.mtimeNs;
    this.parentTimes.set(dir, `@${ns / 1_000_000_000n}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}`);
  }
}
