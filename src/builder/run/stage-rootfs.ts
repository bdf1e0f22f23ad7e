import { chmod, mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import { applyLayers, removeRootfs, type Owner } from '../../../snapshot/rootfs/index.js';
import { WalkSnapshotter } from '../../../snapshot/walk/index.js';
import type { LayerEntry } from '../../../snapshot/layer-entry.js';
import { fsError } from '../../fs-errors.js';
import type { Layer } from '../../oci/index.js';

/**
 * A stage's files on disk, made when the stage reaches its first RUN: its
 * layers so far applied to a directory under the build's scratch space.
 * Later layers of the stage (COPY after RUN) are applied to it too, and the
 * walk snapshotter turns what a step changed into layer entries.
 */
export class StageRootfs {
  private snapshotter: WalkSnapshotter | undefined;

  private constructor(
    readonly dir: string,
    /** Owners the applier could not set on disk (unprivileged): path -> owner in the image. */
    private readonly owners: Map<string, Owner> | undefined,
    private readonly signal: AbortSignal | undefined,
  ) {}

  /** Unpack `layers` (bottom first) into a new directory under `parentDir`. The caller removes it with `remove`. */
  static async create(parentDir: string, layers: readonly Layer[], signal: AbortSignal | undefined, register: (cleanup: () => Promise<void>) => void): Promise<StageRootfs> {
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
    return new StageRootfs(dir, summary.ownersApplied ? undefined : summary.intendedOwners, signal);
  }

  /** A layer the stage added without running anything (COPY, ADD, WORKDIR after a RUN). */
  async applyLayer(layer: Layer): Promise<void> {
    await applyLayers(this.dir, [() => layer.uncompressed()], this.signal ? { signal: this.signal } : {});
    // The applier changed the tree: the next step starts from a fresh capture.
    this.snapshotter = undefined;
  }

  /** Record the state before a step. */
  async beforeStep(): Promise<void> {
    if (this.snapshotter === undefined) this.snapshotter = await WalkSnapshotter.begin(this.dir, this.owners ? { owners: this.owners } : {});
  }

  /** What the step changed since `beforeStep`, in layer order (content is read from disk when the layer is written). */
  async changes(): Promise<LayerEntry[]> {
    if (this.snapshotter === undefined) throw new Error('changes() before beforeStep()');
    const entries: LayerEntry[] = [];
    for await (const entry of this.snapshotter.snapshot(this.owners ? { owners: this.owners } : {})) entries.push(entry);
    return entries;
  }
}

export { removeRootfs };
