/**
 * The files of a stage, as the build steps ask about them: what is at a
 * path, where a path leads through symlinks, the content of a small file
 * (/etc/passwd), the names in a directory. Two things answer: an in-memory
 * FsView while the stage has no root filesystem on disk, and the rootfs
 * itself (snapshot/rootfs/rootfs-files.ts) once a RUN made one, so that
 * COPY, ADD, WORKDIR, owner lookups and COPY --from work the same on
 * either, and a RUN's changes never have to be read back into a view.
 *
 * Lookups are synchronous: a COPY plans thousands of destination paths,
 * and an lstat on disk takes microseconds (see snapshot/walk/scope.ts).
 */
import type { Resolved, ResolveOptions, ViewNode } from './fs-view.js';

/** A position in the files, for walking them one name at a time. */
export interface FilesCursor {
  readonly node: ViewNode;
}

export interface StageFiles {
  /** Metadata of exactly this path (no symlink followed); `''` or `/` is the root. */
  lstat(path: string): ViewNode | undefined;
  /** A cursor at exactly this path (as `lstat`); undefined when nothing is there. */
  cursor(path: string): FilesCursor | undefined;
  /** The entry `name` of the directory at `at` (no symlink followed); undefined if absent or not a directory. */
  child(at: FilesCursor, name: string): FilesCursor | undefined;
  /** The canonical path of a container path, following symlinks inside the root (FsView.resolve). */
  resolve(path: string, opts?: ResolveOptions): Resolved;
  /** `resolve(path, { followFinal: true }).node`. */
  stat(path: string): ViewNode | undefined;
  /** The content of a regular file, symlinks followed (FsView.readFile: NOT_FOUND, NOT_A_FILE, FILE_TOO_LARGE). */
  readFile(path: string, opts?: { maxBytes?: number }): Promise<Buffer>;
  /** Names in a directory (symlinks followed), in byte order. Throws NOT_FOUND, NOT_A_DIRECTORY. */
  readdir(path: string): string[];
}
