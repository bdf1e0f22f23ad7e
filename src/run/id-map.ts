/**
 * How the ids a step runs with land on disk, as /proc/PID/uid_map says it
 * for a user namespace: `count` ids from `inside` (the step's view) are
 * `outside` on disk. The walk snapshotter reads owners on disk and turns
 * them back into the step's ids with `imageId`, so that what hoist running
 * unprivileged wrote as itself belongs to root in the image.
 */
export interface IdExtent {
  inside: number;
  outside: number;
  count: number;
}

export interface IdMap {
  uid: readonly IdExtent[];
  gid: readonly IdExtent[];
}

/** The id in the image of an owner `id` on disk; an id no extent covers is the same in both. */
export function imageId(extents: readonly IdExtent[], id: number): number {
  for (const e of extents) if (id >= e.outside && id < e.outside + e.count) return e.inside + (id - e.outside);
  return id;
}

/** Whether the map changes any id. */
export function isIdentity(map: IdMap): boolean {
  return [...map.uid, ...map.gid].every((e) => e.inside === e.outside);
}

/** Root in the step is hoist's own `hoist` ids on disk, and nothing else is mapped (proot, a one-id user namespace). */
export function rootOnly(hoist: { uid: number; gid: number }): IdMap {
  return { uid: [{ inside: 0, outside: hoist.uid, count: 1 }], gid: [{ inside: 0, outside: hoist.gid, count: 1 }] };
}

/**
 * Whether only root is mapped, to an id other than root on disk: the kernel
 * can store no other owner, so a chown to any other id is faked by proot or
 * refused by the user namespace, and hoist records owners instead.
 */
export function mapsRootOnly(map: IdMap | undefined): boolean {
  if (map === undefined) return false;
  const one = (extents: readonly IdExtent[]): boolean => extents.length === 1 && extents[0]?.count === 1 && extents[0].inside === 0 && extents[0].outside !== 0;
  return one(map.uid) || one(map.gid);
}
