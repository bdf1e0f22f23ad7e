import type { SourceLocation } from '../../errors.js';
import { DockerfileError } from '../../dockerfile/errors.js';
import { HoistError } from '../../errors.js';
import { errnoOf } from '../../fs-errors.js';
import { FakerootRecorder, imageId, mapsRootOnly, type BindMount, type IdMap, type Runner } from '../../run/index.js';
import type { ImageOwner, InodeOwners } from '../../../snapshot/walk/index.js';
import type { StageRootfs } from './stage-rootfs.js';

/** What an owner on disk is in the image, under a runner whose ids are not those on disk; undefined where they are. */
export function imageOwnerOf(map: IdMap | undefined): ImageOwner | undefined {
  if (map === undefined) return undefined;
  return (uid, gid) => ({ uid: imageId(map.uid, uid), gid: imageId(map.gid, gid) });
}

/** How one step's owners are recorded: what the step gets, and what it set once it is done. */
export interface OwnerRecording {
  mounts: readonly BindMount[];
  env: Readonly<Record<string, string>>;
  /** After a step that succeeded: the owners it set, by inode. */
  finish(): Promise<InodeOwners | undefined>;
  /** After a step that failed or was stopped. */
  discard(): Promise<void>;
}

const NOTHING: OwnerRecording = { mounts: [], env: {}, finish: () => Promise.resolve(undefined), discard: () => Promise.resolve() };

/** Commands that set owners other than the caller's, as a step's text names them. */
const SETS_OWNERS = /(^|[\s;&|(`'"/])(chown|chgrp|adduser|useradd)(?=$|[\s;&|)`'"])/;

export interface RecordingInput {
  runner: Runner;
  /** The step's ids. */
  uid: number;
  gid: number;
  rootfs: StageRootfs;
  tmpDir: string;
  /** The command as run, and where the step is, for the error. */
  argv: readonly string[];
  location: SourceLocation;
}

/**
 * Record the owners a root step sets where the kernel cannot store them
 * (the runner maps root alone, to hoist's own ids): fakeroot for images
 * whose glibc can load it. Where it cannot, under proot a chown would
 * silently do nothing (proot reports success), so a step that names a
 * command that sets owners is refused before it runs; a user namespace
 * refuses such a chown itself (EINVAL), and the step fails on its own.
 * A step under a non-root USER needs nothing: there chown fails, as in
 * Docker.
 */
export async function startOwnerRecording(input: RecordingInput): Promise<OwnerRecording> {
  if (!mapsRootOnly(input.runner.idMap) || input.uid !== 0 || input.gid !== 0) return NOTHING;
  const started = await FakerootRecorder.start({ rootfs: input.rootfs.dir, tmpDir: input.tmpDir, known: input.rootfs.recordedOwners() });
  if (!started.ok) {
    const text = input.argv.join(' ');
    if (input.runner.kind === 'proot' && SETS_OWNERS.test(text)) {
      const command = SETS_OWNERS.exec(text)?.[2] ?? 'chown';
      throw new DockerfileError(
        'RUN_OWNERS_UNRECORDABLE',
        `the step runs ${command}, and the owners it sets cannot be kept here: the proot runner fakes root over hoist's own uid, so the kernel stores no other owner, and proot reports success without one; hoist records owners through fakeroot, but ${started.why}`,
        input.location,
        {
          hint: 'build as root (--isolation chroot), or as a user with a subordinate id range (--isolation userns), or set the owners with COPY --chown; for a glibc image, install fakeroot on the build host',
        },
      );
    }
    return NOTHING;
  }
  const recorder = started.recorder;
  return {
    mounts: recorder.mounts,
    env: recorder.env,
    finish: () => recorder.stop(),
    discard: () => recorder.discard(),
  };
}

/**
 * A directory or file the snapshot cannot read, under a runner whose
 * subordinate ids own files (a user namespace with a range). hoist reads
 * the rootfs from outside the namespace; what a step made private to one
 * of its ids is taken back first (StageRootfs.afterStep), so what is left
 * is closed to its owner too (mode 0). Says so; other errors pass through.
 */
export function explainUnreadable(err: unknown, runner: Runner, rootfsDir: string, location: SourceLocation): unknown {
  if (runner.storeOwners === undefined) return err;
  let what: string;
  if (err instanceof HoistError && err.code === 'SNAPSHOT_UNREADABLE') what = err.message;
  else {
    // Content is read as the layer is written: a denied read of a file in the rootfs is the same case.
    const file = errnoOf(err) === 'EACCES' ? (err as NodeJS.ErrnoException).path : undefined;
    if (file === undefined || !file.startsWith(`${rootfsDir}/`)) return err;
    what = `cannot read /${file.slice(rootfsDir.length + 1)} in the rootfs`;
  }
  return new DockerfileError('SNAPSHOT_UNREADABLE', `${what}: hoist reads the step's changes from outside its user namespace, and not even the file's owner may read it there`, location, {
    hint: 'give it a mode its owner can read (chmod u+r) in the step, or build with --isolation proot (or as root)',
    cause: err,
  });
}
