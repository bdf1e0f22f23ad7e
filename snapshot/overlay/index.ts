/**
 * The `overlay` snapshotter: a RUN step's overlay upper dir is its diff, so
 * the cost follows the change, not the rootfs (bench/snapshot).
 */
export { OverlaySnapshotter, type OverlaySnapshotterOptions } from './snapshotter.js';
export { upperEntries, isWhiteout, isOpaque, type UpperOptions } from './upper.js';
export { mergeUpper } from './merge.js';
