import { HoistError } from '../errors.js';
import type { HostProbe } from './probe.js';
import type { RunnerKind } from './process-spec.js';

/** The snapshotters after RUN (snapshot/step-snapshotter.ts); which one can work depends on the runner. */
export type SnapshotKind = 'walk' | 'overlay';
export type SnapshotRequest = 'auto' | SnapshotKind;
export const SNAPSHOT_REQUESTS: readonly SnapshotRequest[] = ['auto', 'walk', 'overlay'];

export interface SnapshotChoice {
  kind: SnapshotKind;
  /** `overlay: overlayfs mounts in a user namespace here`, for the build output. */
  reason: string;
}

/** Why the overlay snapshotter cannot work with `runner` here, or undefined when it can. */
export function overlayBlocker(runner: RunnerKind, probe: HostProbe, mountNamespace: boolean, scratchDir: string): string | undefined {
  if (/[,:\\]/.test(scratchDir)) return `the scratch directory ${scratchDir} has a "," ":" or "\\" that overlayfs options cannot hold`;
  switch (runner) {
    case 'proot':
      return 'the proot runner cannot mount an overlay';
    case 'chroot':
      if (!mountNamespace) return 'the chroot runner has no mount namespace here';
      if (probe.overlayAsRoot?.ok !== true) return `overlayfs does not mount here (${probe.overlayAsRoot?.detail ?? 'not probed'})`;
      return undefined;
    case 'userns':
      if (!probe.overlayInUserns.ok) return `overlayfs does not mount in a user namespace here (${probe.overlayInUserns.detail})`;
      // Without root, owners on disk go through the runner's id map and fakeroot's records, which only the walk reads.
      if (probe.euid !== 0) return 'without root, owners are translated and recorded in ways only the walk snapshotter reads';
      return undefined;
  }
}

/**
 * The snapshotter for `requested` with the build's runner: `auto` takes
 * overlay where it mounts and its upper dir can be merged back by hoist,
 * else walk; an explicit `overlay` that cannot mount fails.
 */
export function selectSnapshot(requested: SnapshotRequest, runner: RunnerKind, probe: HostProbe, mountNamespace: boolean, scratchDir: string): SnapshotChoice {
  if (requested === 'walk') return { kind: 'walk', reason: 'walk: as asked (--snapshot walk)' };
  const blocker = overlayBlocker(runner, probe, mountNamespace, scratchDir);
  if (requested === 'overlay') {
    if (blocker !== undefined) {
      throw new HoistError('SNAPSHOT_OVERLAY_UNAVAILABLE', `--snapshot overlay cannot work with the ${runner} runner here: ${blocker}`, {
        hint: 'use --snapshot walk or auto (hoist doctor shows whether overlay works here, and with which runner)',
      });
    }
    return { kind: 'overlay', reason: 'overlay: as asked (--snapshot overlay)' };
  }
  if (blocker !== undefined) return { kind: 'walk', reason: `walk (not overlay: ${blocker})` };
  return { kind: 'overlay', reason: `overlay: overlayfs mounts ${runner === 'userns' ? 'in a user namespace' : 'as root'} here` };
}
