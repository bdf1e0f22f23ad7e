import { HoistError } from '../errors.js';
import { isIdentity, rootOnly, type IdMap } from './id-map.js';
import { runInNamespace } from './namespace-run.js';
import type { ProcessSpec, RunIo, RunResult, Runner } from './process-spec.js';
import { checkSpec, requireTool, withHostToolVariablesInside, type RunnerOptions } from './step-env.js';
import { reclaimOwnersInNamespace, releaseOwnersInNamespace, storeOwnersInNamespace, type OwnerToStore, type StoredOwner } from './store-owners.js';

/** A block of subordinate ids granted by /etc/subuid or /etc/subgid. */
export interface IdRange {
  start: number;
  count: number;
}

export interface UsernsOptions extends RunnerOptions {
  /** The subuid and subgid ranges to map to ids 1..count (through newuidmap/newgidmap); without them only root exists. */
  subids?: { uid: IdRange; gid: IdRange };
}

/**
 * A user namespace (root mapped to the invoking user, and the subordinate
 * range to ids 1.. where one is granted), with a mount and PID namespace.
 * Needs util-linux (unshare, setpriv, mount) and, for a range, uidmap.
 */
export class UsernsRunner implements Runner {
  readonly kind = 'userns' as const;
  /** Root is hoist's own ids on disk, ids 1.. the subordinate range. */
  readonly idMap: IdMap | undefined;
  constructor(private readonly opts: UsernsOptions) {
    const root = rootOnly({ uid: process.geteuid?.() ?? 0, gid: process.getegid?.() ?? 0 });
    const range = opts.subids;
    const map: IdMap =
      range === undefined
        ? root
        : { uid: [...root.uid, { inside: 1, outside: range.uid.start, count: range.uid.count }], gid: [...root.gid, { inside: 1, outside: range.gid.start, count: range.gid.count }] };
    this.idMap = isIdentity(map) ? undefined : map;
  }

  /**
   * Put on disk the owners hoist could not set as itself (`owners`: as the
   * image has them), where the subordinate range maps them; returns the paths
   * stored, with their new ctimes. Without a range only root exists, and nothing can be stored.
   */
  async storeOwners(rootfs: string, owners: readonly OwnerToStore[]): Promise<StoredOwner[]> {
    const range = this.opts.subids;
    if (range === undefined || owners.length === 0) return [];
    const unshare = requireTool(this.opts.tools, 'unshare', this.kind);
    requireTool(this.opts.tools, 'newuidmap', this.kind);
    requireTool(this.opts.tools, 'newgidmap', this.kind);
    return storeOwnersInNamespace(unshare, this.rangeFlags(range), rootfs, owners, { uid: range.uid.count, gid: range.gid.count });
  }

  /**
   * Give every file under `rootfs` back to hoist (root of the namespace), so
   * that hoist can remove a tree where files belong to subordinate ids.
   */
  async releaseOwners(rootfs: string): Promise<void> {
    const range = this.opts.subids;
    if (range === undefined) return;
    const unshare = requireTool(this.opts.tools, 'unshare', this.kind);
    await releaseOwnersInNamespace(unshare, this.rangeFlags(range), rootfs);
  }

  /** Take files back from the subordinate ids (see Runner.reclaimOwners). */
  async reclaimOwners(rootfs: string, changedSince?: number): Promise<Map<string, { uid: number; gid: number }>> {
    const range = this.opts.subids;
    if (range === undefined) return new Map();
    const unshare = requireTool(this.opts.tools, 'unshare', this.kind);
    return reclaimOwnersInNamespace(unshare, this.rangeFlags(range), rootfs, changedSince);
  }

  private rangeFlags(range: { uid: IdRange; gid: IdRange }): string[] {
    return ['--user', '--map-root-user', `--map-users=${range.uid.start},1,${range.uid.count}`, `--map-groups=${range.gid.start},1,${range.gid.count}`];
  }

  async run(given: ProcessSpec, io: RunIo, signal?: AbortSignal): Promise<RunResult> {
    checkSpec(given);
    const spec = await withHostToolVariablesInside(given, { keepOrder: true });
    const range = this.opts.subids;
    const flags = ['--user', '--map-root-user'];
    if (range !== undefined) {
      requireTool(this.opts.tools, 'newuidmap', this.kind);
      requireTool(this.opts.tools, 'newgidmap', this.kind);
      flags.push(`--map-users=${range.uid.start},1,${range.uid.count}`, `--map-groups=${range.gid.start},1,${range.gid.count}`);
      const unmapped = [spec.uid, spec.gid, ...spec.groups].find((id, i) => id > (i === 0 ? range.uid.count : range.gid.count));
      if (unmapped !== undefined) throw unmappedId(unmapped, `the subordinate range maps ids up to ${Math.min(range.uid.count, range.gid.count)}`);
    } else if (spec.uid !== 0 || spec.gid !== 0) {
      throw unmappedId(spec.uid !== 0 ? spec.uid : spec.gid, 'this user namespace maps only root');
    }
    // Supplementary groups of root cannot be set where only root is mapped (setgroups is denied there); root needs none.
    return runInNamespace(this.kind, flags, range !== undefined, this.opts, range !== undefined ? spec : { ...spec, groups: [] }, io, signal);
  }
}

function unmappedId(id: number, why: string): HoistError {
  return new HoistError('RUN_UNMAPPED_ID', `the userns runner cannot run the step as id ${id}: ${why}`, {
    hint: 'grant the invoking user a subordinate id range in /etc/subuid and /etc/subgid (usermod --add-subuids 100000-165535 --add-subgids 100000-165535 USER) and install uidmap, or use --isolation proot',
  });
}
