import { chmod, lstat, mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import { applyLayers, removeRootfs } from '../../../snapshot/rootfs/index.js';
import { WalkSnapshotter, type ImageOwner, type InodeOwners, type Owner } from '../../../snapshot/walk/index.js';
import type { LayerEntry } from '../../../snapshot/layer-entry.js';
import { fsError } from '../../fs-errors.js';
import type { Layer } from '../../oci/index.js';
import type { Runner } from '../../run/index.js';

/** The runner whose ids may own files of the rootfs, known once a step runs. */
interface Releaser {
  runner?: Runner;
}

/** How the owners of what a step changed are found, where the runner cannot put them on disk (see DiffOptions). */
export interface StepOwners {
  /** The runner made every new file as hoist (`onDisk`); the step's user (`owner`) is what the image must say. */
  created?: { onDisk: Owner; owner: Owner };
  /** What a recorder saw the step set, by inode. */
  inodeOwners?: InodeOwners;
  /** What an owner on disk is in the image (the runner's id map). */
  imageOwner?: ImageOwner;
}

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
    /**
     * Owners that are not on disk: what the applier could not set
     * (unprivileged), and what steps created under a runner that fakes ids.
     * Path -> owner in the image.
     */
    private readonly owners: Map<string, Owner>,
    private readonly signal: AbortSignal | undefined,
    private readonly release: Releaser,
  ) {}

  /** Unpack `layers` (bottom first) into a new directory under `parentDir`. The caller removes it with `remove`. */
  static async create(parentDir: string, layers: readonly Layer[], signal: AbortSignal | undefined, register: (cleanup: () => Promise<void>) => void): Promise<StageRootfs> {
    const dir = await mkdtemp(path.join(parentDir, 'rootfs-')).catch((err: unknown) => {
      throw fsError(err, parentDir, 'create a root filesystem directory in');
    });
    const release: Releaser = {};
    register(async () => {
      // Files a user namespace's subordinate ids own are beyond hoist's reach until given back.
      await release.runner?.releaseOwners?.(dir).catch(() => undefined);
      await removeRootfs(dir);
    });
    // mkdtemp makes it 0700; an image's root is 0755, and a non-root USER must get through it.
    await chmod(dir, 0o755);
    const summary = await applyLayers(
      dir,
      layers.map((layer) => () => layer.uncompressed()),
      signal ? { signal } : {},
    );
    return new StageRootfs(dir, summary.ownersApplied ? new Map() : summary.intendedOwners, signal, release);
  }

  /** A layer the stage added without running anything (COPY, ADD, WORKDIR after a RUN). */
  async applyLayer(layer: Layer): Promise<void> {
    const summary = await applyLayers(this.dir, [() => layer.uncompressed()], this.signal ? { signal: this.signal } : {});
    // Owners it could not set (COPY --chown, hoist unprivileged) are recorded like the base image's.
    for (const [p, owner] of summary.intendedOwners) this.owners.set(p, owner);
    // The applier changed the tree: the next step starts from a fresh capture.
    this.snapshotter = undefined;
  }

  /**
   * Record the state before a step. `imageOwner`: what an owner on disk is
   * in the image (the runner's id map); the same for every step of a build.
   */
  async beforeStep(imageOwner?: ImageOwner): Promise<void> {
    if (this.snapshotter === undefined) this.snapshotter = await WalkSnapshotter.begin(this.dir, { owners: this.owners, ...(imageOwner ? { imageOwner } : {}) });
  }

  /**
   * Let `runner` put the recorded owners on disk where it can (a user
   * namespace with a subordinate range), so that a step sees its files with
   * their owners; what it stored is no longer recorded here. Before
   * `beforeStep`, with the same runner for every step.
   */
  async storeOwners(runner: Runner): Promise<void> {
    if (runner.releaseOwners !== undefined) this.release.runner = runner;
    if (runner.storeOwners === undefined || this.owners.size === 0) return;
    const wanted = [...this.owners].filter(([, o]) => o.mode === undefined).map(([p, o]) => ({ path: p, uid: o.uid, gid: o.gid }));
    for (const p of await runner.storeOwners(this.dir, wanted)) this.owners.delete(p);
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
    if (this.snapshotter === undefined) throw new Error('changes() before beforeStep()');
    const entries: LayerEntry[] = [];
    const { created, inodeOwners, imageOwner } = opts;
    const faked = created !== undefined && (created.onDisk.uid !== created.owner.uid || created.onDisk.gid !== created.owner.gid) ? created : undefined;
    const diff = { owners: this.owners, ...(faked ? { created: faked } : {}), ...(inodeOwners ? { inodeOwners } : {}), ...(imageOwner ? { imageOwner } : {}) };
    for await (const entry of this.snapshotter.snapshot(diff)) entries.push(entry);
    const recorded = faked !== undefined || imageOwner !== undefined || (inodeOwners?.size ?? 0) > 0;
    for (const entry of entries) {
      if (entry.kind === 'whiteout' || entry.kind === 'opaque') {
        const prefix = `${entry.path}/`;
        for (const p of [...this.owners.keys()]) if (p.startsWith(prefix) || (entry.kind === 'whiteout' && p === entry.path)) this.owners.delete(p);
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

export { removeRootfs };
