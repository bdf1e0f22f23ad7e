/**
 * What the stage's rootfs asks of a snapshotter around each RUN step, so
 * that it can hold either kind without knowing which: `walk` (a stat walk
 * before and after, snapshot/walk) or `overlay` (the step runs on an overlay
 * mount and its upper dir is the diff, snapshot/overlay).
 */
import type { LayerEntry } from './layer-entry.js';
import type { ImageOwner, InodeOwners, Owner, OwnerOverrides } from './walk/scope.js';
import type { KeptXattrs } from './xattrs.js';

export type SnapshotKind = 'walk' | 'overlay';

/** Directories the runner mounts as an overlay over the rootfs for one step: the rootfs is the lower dir. */
export interface OverlayDirs {
  /** Empty before the step; what the step changed afterwards. */
  upper: string;
  /** overlayfs's work dir, on the same filesystem as `upper`. */
  work: string;
}

export interface StepChangeOptions {
  /** Owners that apply instead of the inode's (walk/scope.ts). */
  owners?: OwnerOverrides;
  /** What the step created is owned by hoist on disk and belongs to `owner` (runners that fake ids: walk/diff.ts). */
  created?: { onDisk: Owner; owner: Owner };
  /** What a recorder (fakeroot) saw the step set, by inode: walk only. */
  inodeOwners?: InodeOwners;
  /** What an owner on disk is in the image (the runner's id map): walk only. */
  imageOwner?: ImageOwner;
  /** Attributes files have in the image that their inodes on disk lack, by path (xattrs.ts): walk only. */
  keptXattrs?: ReadonlyMap<string, KeptXattrs>;
  /** Paths the step changed without a trace in their stat (an attribute set through fakeroot), written all the same: walk only. */
  rewritten?: ReadonlySet<string>;
}

export interface StepBeginOptions {
  owners?: OwnerOverrides;
  /** What an owner on disk is in the image (the runner's id map): walk only. */
  imageOwner?: ImageOwner;
}

export interface StepSnapshotter {
  readonly kind: SnapshotKind;
  /** Before a step runs; returns the overlay the runner must mount over the rootfs for it, if any. */
  beforeStep(opts: StepBeginOptions): Promise<OverlayDirs | undefined>;
  /**
   * After the step succeeded: what it changed, in layer order. When this
   * resolves the rootfs holds the step's result, and each file entry reads
   * its content from the rootfs.
   */
  changes(opts: StepChangeOptions): Promise<LayerEntry[]>;
  /**
   * Between beforeStep and the step: these paths' ctimes moved (ms), and
   * nothing else of them changed in the image (their owners were put on
   * disk). Not a change of the step.
   */
  ctimesMoved(moved: ReadonlyMap<string, number>): Promise<void>;
  /** The rootfs was changed outside a step (a COPY layer applied to it): forget what was known about it. */
  rootfsChanged(): void;
}
