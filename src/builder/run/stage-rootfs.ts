import { spawn } from 'node:child_process';
import { lstatSync, type Stats } from 'node:fs';
import { chmod, lstat, mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import { applyLayers, removeRootfs, type ApplySummary } from '../../../snapshot/rootfs/index.js';
import { imageXattrs, keptXattrsHold, writeXattrsSync, type FileIdentity, type KeptXattrs, type XattrValues } from '../../../snapshot/xattrs.js';
import { RootfsFiles } from '../../../snapshot/rootfs/rootfs-files.js';
import { FollowingUnpack, type GrowingTar } from '../../../snapshot/rootfs/following-unpack.js';
import type { StageFiles } from '../../../snapshot/stage-files.js';
import { OverlaySnapshotter } from '../../../snapshot/overlay/index.js';
import type { OverlayDirs, SnapshotKind, StepSnapshotter } from '../../../snapshot/step-snapshotter.js';
import { imageRootTest, WalkStepSnapshotter, type ImageOwner, type InodeOwners, type Owner } from '../../../snapshot/walk/index.js';
import type { LayerEntry } from '../../../snapshot/layer-entry.js';
import { fsError } from '../../fs-errors.js';
import type { Layer } from '../../oci/index.js';
import type { Runner } from '../../run/index.js';

type Register = (cleanup: () => Promise<void>) => void;

/** How the rootfs goes: the runner whose ids may own files of it (known once a step runs), and its removal (once, whoever asks first). */
interface Releaser {
  runner?: Runner;
  /** Applies layers while their tar is written, once one was (its worker stops before the removal). */
  following?: FollowingUnpack;
  remove: () => Promise<void>;
}

/** How the owners of what a step changed are found, where the runner cannot put them on disk (see DiffOptions). */
export interface StepOwners {
  /** The runner made every new file as hoist (`onDisk`); the step's user (`owner`) is what the image must say. */
  created?: { onDisk: Owner; owner: Owner };
  /** What a recorder saw the step set, by inode. */
  inodeOwners?: InodeOwners;
  /** What an owner on disk is in the image (the runner's id map). */
  imageOwner?: ImageOwner;
  /** Paths the step changed without a trace in their stat (keepStepXattrs): written all the same. */
  rewritten?: ReadonlySet<string>;
}

/**
 * A stage's files on disk, made when the stage reaches its first RUN: its
 * layers so far applied to a directory under the build's scratch space.
 * Later layers of the stage (COPY after RUN) are applied to it too, and the
 * snapshotter (walk or overlay) turns what a step changed into layer entries.
 */
export class StageRootfs {
  /** The files as the build steps read them (COPY destinations, owner lookups, COPY --from). */
  readonly files: StageFiles;
  /** What an owner on disk is in the image, once a runner that maps ids has run a step here. */
  private imageOwner: ImageOwner | undefined;
  /** How the files got here: the layers unpacked, or an earlier stage's rootfs copied (`copyOf`). */
  madeBy: 'unpack' | 'copy' = 'unpack';
  /** Attributes the image gives files that hoist, unprivileged, could not set on disk, by path. */
  private readonly keptXattrs = new Map<string, KeptXattrs>();

  private constructor(
    readonly dir: string,
    private readonly snapshotter: StepSnapshotter,
    /**
     * Owners that are not on disk: what the applier could not set
     * (unprivileged), and what steps created under a runner that fakes ids.
     * Path -> owner in the image.
     */
    private readonly owners: Map<string, Owner>,
    private readonly signal: AbortSignal | undefined,
    private readonly release: Releaser,
  ) {
    this.files = new RootfsFiles(
      dir,
      (p, st) => this.ownerOf(p, st),
      (p, _st, onDisk) => this.xattrsOf(p, onDisk),
    );
  }

  /**
   * Unpack `layers` (bottom first) into a new directory under `parentDir`.
   * The caller removes it with `remove`. `snapshot` may still be settling
   * (the runner probe): the unpack does not wait for it.
   */
  static async create(parentDir: string, layers: readonly Layer[], signal: AbortSignal | undefined, register: Register, snapshot: SnapshotKind | Promise<SnapshotKind> = 'walk'): Promise<StageRootfs> {
    // Observed at once, so that a failed probe is not an unhandled rejection while the unpack runs.
    const kind = Promise.resolve(snapshot);
    kind.catch(() => undefined);
    const { dir, release } = await newRootfsDir(parentDir, register);
    const summary = await applyLayers(
      dir,
      layers.map((layer) => () => layer.uncompressed()),
      signal ? { signal } : {},
    );
    const owners = summary.ownersApplied ? new Map<string, Owner>() : summary.intendedOwners;
    const rootfs = new StageRootfs(dir, stepSnapshotter(await kind, dir, parentDir, register), owners, signal, release);
    await rootfs.keepXattrs(summary.unsetXattrs);
    return rootfs;
  }

  /**
   * A copy of `source` (an earlier stage's rootfs that is still needed as it
   * is), for a stage built FROM that stage: `cp -a --reflink=auto`, which
   * shares the blocks where the filesystem can (btrfs, XFS) and is still a
   * plain copy without gzip and tar elsewhere. Where cp cannot copy it
   * (no GNU cp, an unreadable directory), `layers` are unpacked instead.
   */
  static async copyOf(
    source: StageRootfs,
    parentDir: string,
    layers: readonly Layer[],
    signal: AbortSignal | undefined,
    register: Register,
    snapshot: SnapshotKind | Promise<SnapshotKind> = 'walk',
  ): Promise<StageRootfs> {
    const kind = Promise.resolve(snapshot);
    kind.catch(() => undefined);
    const { dir, release } = await newRootfsDir(parentDir, register);
    if (await copyTree(source.dir, dir, signal)) {
      const copy = new StageRootfs(dir, stepSnapshotter(await kind, dir, parentDir, register), new Map(source.owners), signal, release);
      copy.imageOwner = source.imageOwner;
      copy.madeBy = 'copy';
      // The copy's inodes are new: the same files by path, size and mtime (cp -a keeps them), for what still held in the source.
      const held = [...source.keptXattrs].filter(([p, k]) => {
        const st = lstatSync(path.join(source.dir, p), { bigint: true, throwIfNoEntry: false });
        return st !== undefined && keptXattrsHold(k, st);
      });
      await copy.keepXattrs(new Map(held.map(([p, k]) => [p, k.values])));
      if (source.release.runner !== undefined) release.runner = source.release.runner;
      return copy;
    }
    await removeRootfs(dir);
    return StageRootfs.create(parentDir, layers, signal, register, kind);
  }

  /** The owner the image gives `p`: recorded where the disk cannot hold it, else the inode's (through the runner's id map). */
  private ownerOf(p: string, st: Stats): Owner {
    return this.owners.get(p) ?? this.imageOwner?.(st.uid, st.gid) ?? { uid: st.uid, gid: st.gid };
  }

  /**
   * Start removing the rootfs now, when nothing will read it again (the
   * image's stage after its last step), rather than at the end of the
   * build; the build's cleanup awaits the same removal.
   */
  discard(): Promise<void> {
    return this.release.remove();
  }

  /** A layer the stage added without running anything (COPY, ADD, WORKDIR after a RUN). */
  async applyLayer(layer: Layer): Promise<void> {
    await this.applyWith(() => applyLayers(this.dir, [() => layer.uncompressed()], this.signal ? { signal: this.signal } : {}));
  }

  /**
   * A layer the stage adds without running anything, applied while its tar
   * is still being written (`tar`), after the layers applied before it.
   */
  async applyGrowing(tar: GrowingTar): Promise<void> {
    const following = (this.release.following ??= new FollowingUnpack());
    await this.applyWith(() => following.apply(this.dir, tar, this.signal), tar.done);
  }

  /**
   * `apply` a layer to the rootfs, once the files a user namespace's
   * subordinate ids own are taken back (and their owners recorded): they are
   * beyond hoist's reach until then. `notApplied` when that fails.
   */
  private async applyWith(apply: () => Promise<ApplySummary>, notApplied?: () => void): Promise<void> {
    let reclaimed: Map<string, Owner> | undefined;
    try {
      reclaimed = await this.release.runner?.reclaimOwners?.(this.dir);
    } catch (err) {
      notApplied?.();
      throw err;
    }
    for (const [p, owner] of reclaimed ?? []) this.owners.set(p, owner);
    const summary = await apply();
    this.recordOwners(summary);
    await this.keepXattrs(summary.unsetXattrs);
    this.snapshotter.rootfsChanged();
  }

  /** How this rootfs's steps are snapshotted. */
  get snapshotKind(): SnapshotKind {
    return this.snapshotter.kind;
  }

  /**
   * Attributes a step set that the disk does not hold (fakeroot kept them:
   * faked-xattrs.ts), held for the inodes as they are now, over what was
   * kept for them before; the paths, for the step's snapshot to write.
   */
  async keepStepXattrs(set: ReadonlyMap<string, XattrValues>): Promise<Set<string>> {
    const paths = new Set<string>();
    for (const [p, values] of set) {
      const abs = path.join(this.dir, p);
      // What hoist may set itself (user.*, on its own files) goes to disk, where later steps see and keep it as on any disk; the rest is held.
      const refused = new Set(writeXattrsSync(abs, values).map((n) => n.name));
      paths.add(p);
      if (refused.size === 0) continue;
      const before = this.keptXattrs.get(p);
      await this.hold(p, (st) => ({
        ...(before !== undefined && keptXattrsHold(before, st) ? before.values : {}),
        ...Object.fromEntries(Object.entries(values).filter(([name]) => refused.has(name))),
      }));
    }
    return paths;
  }

  /** Hold `values(st)` for the inode at `p` as it is now (its lstat `st`); nothing is held for a path that is gone. */
  private async hold(p: string, values: (st: FileIdentity) => XattrValues): Promise<void> {
    const st = await lstat(path.join(this.dir, p), { bigint: true }).catch(() => undefined);
    if (st === undefined) this.keptXattrs.delete(p);
    else this.keptXattrs.set(p, { ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, values: values(st) });
  }

  /** Attributes an unprivileged apply could not set, held for the inodes it wrote (xattrs.ts KeptXattrs). */
  private async keepXattrs(unset: ReadonlyMap<string, XattrValues>): Promise<void> {
    for (const [p, values] of unset) {
      // From the unpack worker the values arrive as plain Uint8Arrays.
      await this.hold(p, () => Object.fromEntries(Object.entries(values).map(([n, v]) => [n, Buffer.from(v.buffer, v.byteOffset, v.byteLength)])));
    }
  }

  /**
   * The attributes the image gives `p` (COPY --from reads them here): what
   * the disk holds, a capability bound to the runner's root as a root build
   * writes it, and what an unprivileged apply could not set.
   */
  private xattrsOf(p: string, onDisk: XattrValues | undefined): XattrValues | undefined {
    const kept = this.keptXattrs.get(p);
    // The file's identity is needed only where something was kept for its path.
    const st = kept === undefined ? undefined : lstatSync(path.join(this.dir, p), { bigint: true, throwIfNoEntry: false });
    return imageXattrs(onDisk, imageRootTest(this.imageOwner), kept, st);
  }

  /** Owners an unprivileged apply could not set (COPY --chown, hoist unprivileged): remembered, as for the base layers. */
  private recordOwners(summary: ApplySummary): void {
    for (const [p, owner] of summary.intendedOwners) this.owners.set(p, owner);
  }

  /**
   * Record the state before a step; returns the overlay the runner must
   * mount for it, if any. `imageOwner`: what an owner on disk is in the
   * image (the runner's id map); the same for every step of a build.
   */
  async beforeStep(imageOwner?: ImageOwner): Promise<OverlayDirs | undefined> {
    if (imageOwner !== undefined) this.imageOwner = imageOwner;
    return this.snapshotter.beforeStep({ owners: this.owners, ...(imageOwner ? { imageOwner } : {}) });
  }

  /**
   * Let `runner` put the recorded owners on disk where it can (a user
   * namespace with a subordinate range), so that a step sees its files with
   * their owners; what it stored is no longer recorded here. After
   * `beforeStep` (which reads the rootfs while hoist still owns all of it),
   * with the same runner for every step.
   */
  async storeOwners(runner: Runner): Promise<void> {
    if (runner.releaseOwners !== undefined) this.release.runner = runner;
    if (runner.storeOwners === undefined || this.owners.size === 0) return;
    const wanted = [...this.owners].filter(([, o]) => o.mode === undefined).map(([p, o]) => ({ path: p, uid: o.uid, gid: o.gid }));
    const stored = await runner.storeOwners(this.dir, wanted);
    for (const s of stored) this.owners.delete(s.path);
    // The image's owners are unchanged; only the ctimes chown moved must not look like the step's doing.
    if (stored.length > 0) await this.snapshotter.ctimesMoved(new Map(stored.map((s) => [s.path, s.ctimeMs])));
  }

  /**
   * After a step that began at `startedAt` (ms): what hoist cannot read of
   * its changes (a directory or file a subordinate id made private) is taken
   * back from `runner`'s namespace, its owner recorded, so the snapshot can
   * read it; storeOwners puts it back before the next step.
   */
  async afterStep(runner: Runner, startedAt: number): Promise<void> {
    const reclaimed = await runner.reclaimOwners?.(this.dir, startedAt);
    for (const [p, owner] of reclaimed ?? []) this.owners.set(p, owner);
  }

  /** An owner `rel` (a path inside the image, no leading `/`) has in the image that the file on disk does not carry. */
  recordOwner(rel: string, owner: Owner): void {
    this.owners.set(rel, owner);
  }

  /** Owners (and modes) the image has that the files on disk do not carry, by path: what a recorder must show the next step. */
  recordedOwners(): Iterable<[string, Owner]> {
    return this.owners.entries();
  }

  /**
   * What the step changed since `beforeStep`, in layer order (content is
   * read from disk when the layer is written), with owners found as `opts`
   * says; owners and modes the files on disk do not carry are remembered
   * for later steps.
   */
  async changes(opts: StepOwners = {}): Promise<LayerEntry[]> {
    const { created, inodeOwners, imageOwner, rewritten } = opts;
    // Where on-disk owners are translated (imageOwner), hoist's own ids stand for root: a USER whose ids are hoist's still needs `created`.
    const faked =
      created !== undefined && (imageOwner !== undefined || created.onDisk.uid !== created.owner.uid || created.onDisk.gid !== created.owner.gid) ? created : undefined;
    const entries = await this.snapshotter.changes({
      owners: this.owners,
      ...(faked ? { created: faked } : {}),
      ...(inodeOwners ? { inodeOwners } : {}),
      ...(imageOwner ? { imageOwner } : {}),
      ...(this.keptXattrs.size > 0 ? { keptXattrs: this.keptXattrs } : {}),
      ...(rewritten !== undefined && rewritten.size > 0 ? { rewritten } : {}),
    });
    const recorded = faked !== undefined || imageOwner !== undefined || (inodeOwners?.size ?? 0) > 0;
    for (const entry of entries) {
      if (entry.kind === 'whiteout' || entry.kind === 'opaque') {
        const prefix = `${entry.path}/`;
        for (const byPath of [this.owners, this.keptXattrs]) {
          for (const p of [...byPath.keys()]) if (p.startsWith(prefix) || (entry.kind === 'whiteout' && p === entry.path)) byPath.delete(p);
        }
      } else if (recorded) {
        await this.remember(entry, imageOwner);
      }
    }
    return entries;
  }

  /** Keep the owner and mode `entry` has in the image where the file on disk says otherwise, for later steps. */
  private async remember(entry: Exclude<LayerEntry, { kind: 'whiteout' | 'opaque' }>, imageOwner: ImageOwner | undefined): Promise<void> {
    const st = await lstat(path.join(this.dir, entry.path)).catch(() => undefined);
    if (st === undefined) return;
    const disk = imageOwner?.(st.uid, st.gid) ?? { uid: st.uid, gid: st.gid };
    const modeDiffers = entry.mode !== (st.mode & 0o7777);
    if (disk.uid === entry.uid && disk.gid === entry.gid && !modeDiffers) this.owners.delete(entry.path);
    else this.owners.set(entry.path, { uid: entry.uid, gid: entry.gid, ...(modeDiffers ? { mode: entry.mode } : {}) });
  }
}

/** Each step's overlay upper dir sits next to the rootfs: on its filesystem, so the merge renames. */
function stepSnapshotter(kind: SnapshotKind, dir: string, parentDir: string, register: Register): StepSnapshotter {
  return kind === 'overlay' ? new OverlaySnapshotter(dir, { scratchDir: parentDir, register }) : new WalkStepSnapshotter(dir);
}

/** A new, empty 0755 directory under `parentDir`, removed when the build ends (given back first by a runner whose ids own files in it). */
async function newRootfsDir(parentDir: string, register: Register): Promise<{ dir: string; release: Releaser }> {
  const dir = await mkdtemp(path.join(parentDir, 'rootfs-')).catch((err: unknown) => {
    throw fsError(err, parentDir, 'create a root filesystem directory in');
  });
  let removal: Promise<void> | undefined;
  const release: Releaser = {
    remove: () =>
      (removal ??= (async () => {
        await release.following?.close();
        // Files a user namespace's subordinate ids own are beyond hoist's reach until given back.
        await release.runner?.releaseOwners?.(dir).catch(() => undefined);
        await removeRootfs(dir);
      })()),
  };
  register(() => release.remove());
  // mkdtemp makes it 0700; an image's root is 0755, and a non-root USER must get through it.
  await chmod(dir, 0o755);
  return { dir, release };
}

/** Whether `cp -a` copied everything of `from` into the existing directory `to`. */
function copyTree(from: string, to: string, signal: AbortSignal | undefined): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const child = spawn('cp', ['-a', '--reflink=auto', '--', `${from}/.`, `${to}/`], { stdio: 'ignore', ...(signal ? { signal } : {}) });
    child.on('error', () => (signal?.aborted === true ? reject(signal.reason) : resolve(false)));
    child.on('close', (status) => (signal?.aborted === true ? reject(signal.reason) : resolve(status === 0)));
  });
}

export { removeRootfs };
