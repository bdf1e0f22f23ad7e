/**
 * The `overlay` snapshotter: each RUN step runs on an overlay mount whose
 * lower dir is the stage's rootfs and whose upper dir is fresh, made here
 * next to the rootfs (the same filesystem, so the merge renames). After the
 * step the upper dir is read as the step's layer entries (upper.ts) and
 * applied onto the rootfs (merge.ts); nothing is kept between steps, so a
 * COPY applied to the rootfs in between needs no care.
 *
 * Where overlayfs differs from a plain filesystem the layer follows what the
 * step saw: a file of the rootfs with several hard links is copied up alone
 * when the step changes it (overlayfs without `index`), so its other names
 * keep the old content, as they do under Docker's overlay2.
 */
import { chmod, lchown, lstat, mkdir, mkdtemp, rm, utimes } from 'node:fs/promises';
import path from 'node:path';
import { fsError } from '../../src/fs-errors.js';
import { openOverlayWorkDir } from '../../src/overlay-workdir.js';
import type { LayerEntry } from '../layer-entry.js';
import { removeRootfs } from '../rootfs/index.js';
import type { OverlayDirs, StepChangeOptions, StepSnapshotter } from '../step-snapshotter.js';
import type { OwnerOverrides } from '../walk/scope.js';
import { mergeUpper } from './merge.js';
import { upperEntries } from './upper.js';

export interface OverlaySnapshotterOptions {
  /** Where each step's upper and work dirs are made: on the rootfs's filesystem, not on overlayfs. */
  scratchDir: string;
  /** Registers a cleanup that runs on success, failure and interruption. */
  register?: (cleanup: () => Promise<void>) => void;
}

export class OverlaySnapshotter implements StepSnapshotter {
  readonly kind = 'overlay' as const;
  /** The current step's directory (holding `upper` and `work`), until its changes are merged. */
  private step: string | undefined;

  constructor(
    private readonly root: string,
    private readonly opts: OverlaySnapshotterOptions,
  ) {
    opts.register?.(() => this.discard());
  }

  async beforeStep(_opts: { owners?: OwnerOverrides } = {}): Promise<OverlayDirs> {
    await this.discard(); // a step that failed before its changes were read
    const dir = await mkdtemp(path.join(this.opts.scratchDir, 'overlay-')).catch((err: unknown) => {
      throw fsError(err, this.opts.scratchDir, 'create an overlay directory in');
    });
    this.step = dir;
    const upper = path.join(dir, 'upper');
    const work = path.join(dir, 'work');
    await mkdir(upper);
    await mkdir(work);
    // The mount's root is the upper dir itself: it must look like the rootfs's root.
    const root = await lstat(this.root, { bigint: true });
    await lchown(upper, Number(root.uid), Number(root.gid)).catch(() => undefined);
    await chmod(upper, Number(root.mode & 0o7777n));
    await utimes(upper, Number(root.atimeNs / 1000n) / 1e6, Number(root.mtimeNs / 1000n) / 1e6);
    return { upper, work };
  }

  async changes(opts: StepChangeOptions = {}): Promise<LayerEntry[]> {
    if (this.step === undefined) throw new Error('changes() before beforeStep()');
    const upper = path.join(this.step, 'upper');
    const entries: LayerEntry[] = [];
    for await (const entry of upperEntries(upper, this.root, opts)) entries.push(entry);
    await mergeUpper(upper, this.root);
    await this.discard();
    return entries;
  }

  /** Nothing to record: the next step's upper dir holds only what that step changes. */
  async ctimesMoved(): Promise<void> {}

  rootfsChanged(): void {}

  private async discard(): Promise<void> {
    const dir = this.step;
    if (dir === undefined) return;
    this.step = undefined;
    await openOverlayWorkDir(path.join(dir, 'work'));
    // In process: what is left is small (whiteouts, emptied directories); removeRootfs (which spawns rm) where that is refused.
    await rm(dir, { recursive: true, force: true }).catch(() => removeRootfs(dir));
  }
}
