/**
 * RUN mounts where no mount can be made (the chroot runner without a mount
 * namespace): each source is copied to its target in the rootfs before the
 * step, what was at the target is moved aside, and after the step a cache
 * mount's content is copied back to its source, the copies are removed and
 * what was moved aside is put back (RootfsScaffold's undo), so that the
 * snapshot sees nothing of them. An SSH agent's socket cannot be copied:
 * a socket in the rootfs relays each connection to it.
 *
 * A copied cache is not shared between steps: the builder locks it for the
 * step (`sharing=shared` is `locked` here, see cache-mount.ts), so no other
 * step reads it while this one copies back, and no step's writes are undone
 * by another's copy.
 */
import { spawn } from 'node:child_process';
import { chmod, chown, lstat, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { HoistError } from '../errors.js';
import type { BindMount, ProcessSpec } from './process-spec.js';
import { realDirectoriesTo, UnsafeMountpointError, type RootfsScaffold } from './scaffold.js';
import { relaySocket, type SocketRelay } from './socket-relay.js';

const EMULATION_HINT = 'the chroot runner copies mounts in and out where it cannot mount them; check the free space of the scratch directory, or build where mount namespaces are allowed';

/**
 * `cp -a -- ARGS`: a RUN mount's files copied where no mount can be made, or
 * a cache for a private use. `cp` is a path, or a name looked up in
 * /usr/bin:/bin (spawned without the caller's environment). `hint`: what to
 * do when it fails.
 */
export function copyTree(cp: string, args: readonly string[], hint = EMULATION_HINT): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cp, ['-a', '--', ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: {} });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(new HoistError('RUN_MOUNT_COPY', `cannot copy a RUN mount's files (${args.join(' ')}): ${err.trim() || `cp exited ${code}`}`, { hint })),
    );
  });
}

/**
 * The mounts of one step as copies in the rootfs. Order: `apply` before the
 * step, `finish` after it (copies caches back), then the scaffold's undo
 * (removes the copies, puts back what was moved aside), then `close`, also
 * when `apply` failed half way.
 */
export class EmulatedMounts {
  private readonly writeBacks: { target: string; source: string }[] = [];
  /** Where each mount's copy is in the rootfs (host paths), in the order they were made. */
  private readonly targets: string[] = [];
  /** The file copies (a secret, a bound file) and the inode each got. */
  private readonly fileCopies: { target: string; mountpoint: string; ino: number }[] = [];
  private readonly relays: SocketRelay[] = [];
  private asideDir: string | undefined;
  private rootfs = '';

  /** `cp` is GNU cp (needed for anything but a socket or a tmpfs). */
  constructor(private readonly cp: string | undefined) {}

  /** Put `spec.mounts` in place through `scaffold`. */
  async apply(spec: ProcessSpec, scaffold: RootfsScaffold): Promise<void> {
    // Beside the rootfs, so that what is moved aside is renamed, not copied.
    this.rootfs = spec.rootfs;
    const asideDir = await mkdtemp(path.join(path.dirname(spec.rootfs), 'mounts-aside-'));
    this.asideDir = asideDir;
    for (const m of spec.mounts) {
      const rel = m.target.replace(/^\/+/, '');
      // A real mount of a file on a directory fails; a copy must not hide the directory instead.
      if (m.kind !== 'tmpfs' && !(await stat(m.source)).isDirectory() && (await realDirectoriesTo(spec.rootfs, path.join(spec.rootfs, rel)))) {
        throw UnsafeMountpointError.fileOnDirectory(rel);
      }
      await scaffold.hide(rel, asideDir);
      if (m.kind === 'tmpfs') {
        const target = await scaffold.ensure(rel, 'dir', { keepUsed: 'parents' });
        this.targets.push(target);
        await chmod(target, 0o1777);
      } else {
        await this.copyIn(m, rel, scaffold);
      }
    }
  }

  private async copyIn(m: BindMount, rel: string, scaffold: RootfsScaffold): Promise<void> {
    const st = await lstat(m.source);
    if (st.isSocket()) {
      const at = await scaffold.claim(rel);
      this.targets.push(at);
      // With the agent socket's owner and mode, which the builder gave it for the step (type=ssh,uid=,gid=,mode=).
      this.relays.push(await relaySocket(at, m.source, st.mode & 0o7777));
      await chown(at, st.uid, st.gid);
      return;
    }
    const cp = this.cp;
    if (cp === undefined) {
      throw new HoistError('RUN_MOUNTS_UNSUPPORTED', `RUN --mount needs cp to copy ${m.target} into the root filesystem here: the chroot runner cannot mount without a mount namespace`, {
        hint: 'install GNU coreutils on the build host, or build where mount or user namespaces are allowed, or use --isolation proot',
      });
    }
    if (st.isDirectory()) {
      const target = await scaffold.ensure(rel, 'dir', { keepUsed: 'parents' });
      this.targets.push(target);
      await copyTree(cp, [`${m.source}/.`, `${target}/`]);
      if (m.writeBack === true) this.writeBacks.push({ target, source: m.source });
    } else {
      const target = await scaffold.claim(rel);
      this.targets.push(target);
      await copyTree(cp, [m.source, target]);
      this.fileCopies.push({ target, mountpoint: m.target, ino: (await lstat(target)).ino });
      if (m.writeBack === true) this.writeBacks.push({ target, source: m.source });
    }
  }

  /**
   * After the step, before anything else: the mount points of file copies
   * (a secret, a bound file) that the step moved away or removed. A real
   * mount point cannot be moved or removed (EBUSY), so the copy stays where
   * it was put and the undo removes it; a copy the step moved (`mv /app
   * /srv`) would be in the layer wherever it went, so the runner fails the
   * step instead.
   */
  async movedFileCopies(): Promise<string[]> {
    const moved = [];
    for (const c of this.fileCopies) {
      const st = await lstat(c.target).catch(() => undefined);
      if (st === undefined || st.ino !== c.ino) moved.push(c);
    }
    // Wherever the copies went in the rootfs, they go now: the step fails, but its rootfs stays on disk until the build is over.
    if (moved.length > 0) await removeInodes(this.rootfs, new Set(moved.map((c) => c.ino)));
    return moved.map((c) => c.mountpoint);
  }

  /**
   * After the step: what it left in a cache mount becomes the cache's
   * content. A target it removed, or replaced (or a directory on its way)
   * with a link, leaves the cache as it was: hoist copies as root, and a
   * link would lead the copy out of the rootfs.
   */
  async finish(): Promise<void> {
    const cp = this.cp as string;
    for (const { target, source } of this.writeBacks) {
      if (!(await realDirectoriesTo(this.rootfs, path.dirname(target)))) continue;
      const st = await lstat(target).catch(() => undefined);
      const was = await lstat(source);
      if (st === undefined || st.isSymbolicLink() || st.isDirectory() !== was.isDirectory()) continue;
      if (was.isDirectory()) {
        await this.copyBackDir(cp, target, source);
      } else {
        await copyTree(cp, [target, source]);
      }
    }
  }

  /**
   * A cache directory's copy back to the cache, without the mounts made
   * inside it (a secret at /root/.m2/settings.xml in a cache at /root/.m2):
   * those are other sources' copies, which a real mount would have laid
   * over the cache, never into it. Each is moved out of the copy for the
   * time of the copy back, and what the cache itself had at its place,
   * which the step could not see, is kept.
   */
  private async copyBackDir(cp: string, target: string, source: string): Promise<void> {
    // Copies are held beside the rootfs, the cache's own entries inside the cache: renames, never across filesystems.
    const held = await mkdtemp(path.join(this.asideDir as string, 'nested-'));
    const ownHeld = await mkdtemp(path.join(source, '.hoist-held-'));
    const nested = this.targets
      .filter((t) => t.startsWith(`${target}/`))
      .map((t, i) => ({ copy: t, own: path.join(source, path.relative(target, t)), holdCopy: path.join(held, String(i)), holdOwn: path.join(ownHeld, String(i)) }));
    // Deepest first, so that a nested mount inside another nested one is moved before its parent.
    nested.sort((a, b) => b.copy.length - a.copy.length);
    try {
      for (const n of nested) {
        // What the step (or, in the cache, an earlier step) made a link on the way to is left where it is: nothing is moved through a link.
        if (await realDirectoriesTo(target, path.dirname(n.copy))) await moveIfThere(n.copy, n.holdCopy);
        if (await realDirectoriesTo(source, path.dirname(n.own))) await moveIfThere(n.own, n.holdOwn);
      }
      // Emptied, not replaced: the cache directory keeps its inode, owner and mode, and a step of another build that mounts it still sees it.
      for (const name of await readdir(source)) if (path.join(source, name) !== ownHeld) await rm(path.join(source, name), { recursive: true, force: true });
      await copyTree(cp, [`${target}/.`, `${source}/`]);
    } finally {
      for (const n of nested.reverse()) {
        if (await realDirectoriesTo(target, path.dirname(n.copy))) await moveIfThere(n.holdCopy, n.copy);
        if (await realDirectoriesTo(source, path.dirname(n.own))) {
          await rm(n.own, { recursive: true, force: true });
          await moveIfThere(n.holdOwn, n.own);
        }
      }
      await rm(held, { recursive: true, force: true });
      await rm(ownHeld, { recursive: true, force: true });
    }
  }

  /** Stop the relays and remove the aside directory: only after the scaffold's undo has put everything back. */
  async close(): Promise<void> {
    for (const relay of this.relays.splice(0)) await relay.close();
    if (this.asideDir !== undefined) await rm(this.asideDir, { recursive: true, force: true });
  }
}

/** Rename `from` to `to` if there is something at `from` (a link is moved as it is). */
async function moveIfThere(from: string, to: string): Promise<void> {
  if ((await lstat(from).catch(() => undefined)) === undefined) return;
  await rename(from, to);
}

/** Removes every regular file under `dir` (through no link, on its filesystem) whose inode is in `inodes`. */
async function removeInodes(dir: string, inodes: Set<number>): Promise<void> {
  const top = await lstat(dir);
  const walk = async (d: string): Promise<void> => {
    for (const name of await readdir(d).catch(() => [] as string[])) {
      const p = path.join(d, name);
      const st = await lstat(p).catch(() => undefined);
      if (st === undefined || st.dev !== top.dev) continue;
      if (st.isDirectory()) await walk(p);
      else if (st.isFile() && inodes.has(st.ino)) await rm(p, { force: true });
    }
  };
  await walk(dir);
}
