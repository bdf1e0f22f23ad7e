import { spawn } from 'node:child_process';
import type { Stats } from 'node:fs';
import { chmod, mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import { applyLayers, removeRootfs, type ApplySummary, type Owner } from '../../../snapshot/rootfs/index.js';
import { RootfsFiles } from '../../../snapshot/rootfs/rootfs-files.js';
import type { StageFiles } from '../../../snapshot/stage-files.js';
import { OverlaySnapshotter } from '../../../snapshot/overlay/index.js';
import type { OverlayDirs, SnapshotKind, StepSnapshotter } from '../../../snapshot/step-snapshotter.js';
import { WalkStepSnapshotter } from '../../../snapshot/walk/index.js';
import type { LayerEntry } from '../../../snapshot/layer-entry.js';
import { fsError } from '../../fs-errors.js';
import type { Layer } from '../../oci/index.js';

type Register = (cleanup: () => Promise<void>) => void;

/**
 * A stage's files on disk, made when the stage reaches its first RUN: its
 * layers so far applied to a directory under the build's scratch space.
 * Later layers of the stage (COPY after RUN) are applied to it too, and the
 * snapshotter (walk or overlay) turns what a step changed into layer entries.
 */
export class StageRootfs {
  /** The files as the build steps read them (COPY destinations, owner lookups, COPY --from). */
  readonly files: StageFiles;

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
  ) {
    this.files = new RootfsFiles(dir, (p, st) => this.ownerOf(p, st));
  }

  /** Unpack `layers` (bottom first) into a new directory under `parentDir`. The caller removes it with `remove`. */
  static async create(parentDir: string, layers: readonly Layer[], signal: AbortSignal | undefined, register: Register, snapshot: SnapshotKind = 'walk'): Promise<StageRootfs> {
    const dir = await newRootfsDir(parentDir, register);
    const summary = await applyLayers(
      dir,
      layers.map((layer) => () => layer.uncompressed()),
      signal ? { signal } : {},
    );
    return new StageRootfs(dir, stepSnapshotter(snapshot, dir, parentDir, register), summary.ownersApplied ? new Map() : summary.intendedOwners, signal);
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
    snapshot: SnapshotKind = 'walk',
  ): Promise<StageRootfs> {
    const dir = await newRootfsDir(parentDir, register);
    if (await copyTree(source.dir, dir, signal)) return new StageRootfs(dir, stepSnapshotter(snapshot, dir, parentDir, register), new Map(source.owners), signal);
    await removeRootfs(dir);
    return StageRootfs.create(parentDir, layers, signal, register, snapshot);
  }

  /** The owner the image gives `p`: recorded where the disk cannot hold it, else the inode's. */
  private ownerOf(p: string, st: Stats): Owner {
    return this.owners.get(p) ?? { uid: st.uid, gid: st.gid };
  }

  /** A layer the stage added without running anything (COPY, ADD, WORKDIR after a RUN). */
  async applyLayer(layer: Layer): Promise<void> {
    const summary = await applyLayers(this.dir, [() => layer.uncompressed()], this.signal ? { signal: this.signal } : {});
    this.recordOwners(summary);
    this.snapshotter.rootfsChanged();
  }

  /** Owners an unprivileged apply could not set: remembered, as for the base layers. */
  private recordOwners(summary: ApplySummary): void {
    for (const [p, owner] of summary.intendedOwners) this.owners.set(p, owner);
  }

  /** Record the state before a step; returns the overlay the runner must mount for it, if any. */
  async beforeStep(): Promise<OverlayDirs | undefined> {
    return this.snapshotter.beforeStep({ owners: this.owners });
  }

  /**
   * What the step changed since `beforeStep`, in layer order (content is
   * read from disk when the layer is written). `created`: the runner made
   * every new file as hoist (`onDisk`), and the step's user (`owner`) is
   * what the image must say; that owner is remembered for later steps.
   */
  async changes(created?: { onDisk: Owner; owner: Owner }): Promise<LayerEntry[]> {
    const faked = created !== undefined && (created.onDisk.uid !== created.owner.uid || created.onDisk.gid !== created.owner.gid) ? created : undefined;
    const entries = await this.snapshotter.changes({ owners: this.owners, ...(faked ? { created: faked } : {}) });
    for (const entry of entries) {
      if (entry.kind === 'whiteout' || entry.kind === 'opaque') {
        const prefix = `${entry.path}/`;
        for (const p of [...this.owners.keys()]) if (p.startsWith(prefix) || (entry.kind === 'whiteout' && p === entry.path)) this.owners.delete(p);
      } else if (faked !== undefined && entry.uid === faked.owner.uid && entry.gid === faked.owner.gid) {
        this.owners.set(entry.path, faked.owner);
      }
    }
    return entries;
  }
}

/** Each step's overlay upper dir sits next to the rootfs: on its filesystem, so the merge renames. */
function stepSnapshotter(kind: SnapshotKind, dir: string, parentDir: string, register: Register): StepSnapshotter {
  return kind === 'overlay' ? new OverlaySnapshotter(dir, { scratchDir: parentDir, register }) : new WalkStepSnapshotter(dir);
}

/** A new, empty 0755 directory under `parentDir`, removed when the build ends. */
async function newRootfsDir(parentDir: string, register: Register): Promise<string> {
  const dir = await mkdtemp(path.join(parentDir, 'rootfs-')).catch((err: unknown) => {
    throw fsError(err, parentDir, 'create a root filesystem directory in');
  });
  register(() => removeRootfs(dir));
  // mkdtemp makes it 0700; an image's root is 0755, and a non-root USER must get through it.
  await chmod(dir, 0o755);
  return dir;
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
