/**
 * The `walk` snapshotter: capture the rootfs's stat state before a RUN step,
 * diff it after. Works on any filesystem and in any runner; its cost follows
 * the size of the rootfs (bench/snapshot).
 */
export { captureState, WalkState, type CaptureOptions } from './state.js';
export { diffState, WalkDiff, type DiffOptions } from './diff.js';
export { WalkSnapshotter } from './snapshotter.js';
export { ALWAYS_EXCLUDED, imageRootTest, type ImageOwner, type InodeOwners, type Owner, type OwnerOverrides, type WalkScope } from './scope.js';
export { WalkStepSnapshotter } from './step.js';
