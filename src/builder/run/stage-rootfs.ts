import { chmod, mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import { applyLayers, removeRootfs, type Owner } from '../../../snapshot/rootfs/index.js';
import { OverlaySnapshotter } from '../../../snapshot/overlay/index.js';
import type { OverlayDirs, SnapshotKind, StepSnapshotter } from '../../../snapshot/step-snapshotter.js';
import { WalkStepSnapshotter } from '../../../snapshot/walk/index.js';
import type { LayerEntry } from '../../../snapshot/layer-entry.js';
import { fsError } from '../../fs-errors.js';
import type { Layer } from '../../oci/index.js';

/**
 * A stage's files on disk, made when the stage reaches its first RUN: its
 * layers so far applied to a directory under the build's scratch space.
 * Later layers of the stage (COPY after RUN) are applied to it too, and the
 * snapshotter (walk or overlay) turns what a step changed into layer entries.
 */
export class StageRootfs {
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
  ) {}

  /** Unpack `layers` (bottom first) into a new directory under `parentDir`. The caller removes it with `remove`. */
  static async create(
    parentDir: string,
    layers: readonly Layer[],
    signal: AbortSignal | undefined,
    register: (cleanup: () => Promise<void>) => void,
    snapshot: SnapshotKind = 'walk',
  ): Promise<StageRootfs> {
    const dir = await mkdtemp(path.join(parentDir, 'rootfs-')).catch((err: unknown) => {
      throw fsError(err, parentDir, 'create a root filesystem directory in');
    });
    register(() => removeRootfs(dir));
    // mkdtemp makes it 0700; an image's root is 0755, and a non-root USER must get through it.
    await chmod(dir, 0o755);
    const summary = await applyLayers(
      dir,
      layers.map((layer) => () => layer.uncompressed()),
      signal ? { signal } : {},
    );
    // Each step's overlay upper dir sits next to the rootfs: on its filesystem, so the merge renames.
    const snapshotter = snapshot === 'overlay' ? new OverlaySnapshotter(dir, { scratchDir: parentDir, register }) : new WalkStepSnapshotter(dir);
    return new StageRootfs(dir, snapshotter, summary.ownersApplied ? new Map() : summary.intendedOwners, signal);
  }

  /** A layer the stage added without running anything (COPY, ADD, WORKDIR after a RUN). */
  async applyLayer(layer: Layer): Promise<void> {
    await applyLayers(this.dir, [() => layer.uncompressed()], this.signal ? { signal: this.signal } : {});
    this.snapshotter.rootfsChanged();
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

export { removeRootfs };
