import type { SourceLocation } from '../../errors.js';
import { DockerfileError } from '../../dockerfile/errors.js';
import { isCarriedXattr } from '../../../snapshot/xattrs.js';
import { HoistError } from '../../errors.js';
import { errnoOf } from '../../fs-errors.js';
import { FakerootRecorder, imageId, mapsRootOnly, type BindMount, type IdMap, type Runner } from '../../run/index.js';
import type { ImageOwner, InodeOwners } from '../../../snapshot/walk/index.js';
import type { StageRootfs } from './stage-rootfs.js';
import type { FakedXattrs } from '../../run/faked-xattrs.js';
import { unrecordablePrograms, type UnrecordableProgram } from './owner-programs.js';

/** What an owner on disk is in the image, under a runner whose ids are not those on disk; undefined where they are. */
export function imageOwnerOf(map: IdMap | undefined): ImageOwner | undefined {
  if (map === undefined) return undefined;
  return (uid, gid) => ({ uid: imageId(map.uid, uid), gid: imageId(map.gid, gid) });
}

/** What a recorder kept of a step that the disk does not show. */
export interface RecordedStep {
  owners: InodeOwners;
  /** Extended attributes layers carry that the step set through fakeroot, by path in the rootfs (faked-xattrs.ts). */
  xattrs?: FakedXattrs;
}

/** How one step's owners are recorded: what the step gets, and what it set once it is done. */
export interface OwnerRecording {
  mounts: readonly BindMount[];
  env: Readonly<Record<string, string>>;
  /** After a step that succeeded: the owners it set, by inode, and the attributes it set where the disk does not have them, by path. */
  finish(): Promise<RecordedStep | undefined>;
  /** After a step that failed or was stopped. */
  discard(): Promise<void>;
}

const OTHER_WAYS = 'build as root (--isolation chroot), or as a user with a subordinate id range (--isolation userns), or set the owners with COPY --chown';

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
  /** The step's PATH and working directory, to find the programs it runs in the image. */
  path?: string | undefined;
  cwd?: string | undefined;
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
 *
 * fakeroot sees only what goes through the image's glibc. Under proot, a
 * step that names such a command is refused too when the program it would
 * run is one fakeroot cannot see (owner-programs.ts): a static busybox
 * chown would otherwise succeed, faked by proot, and leave hoist's own ids
 * in the layer. proot itself cannot tell: its fake_id0 extension turns the
 * EPERM of chown into success without a word at any verbosity (proot 5.1
 * to 5.4), and `-v 4` traces every system call with raw pointers instead of
 * paths, on the step's own stderr, which is no safeguard. In a user
 * namespace that maps one uid the kernel refuses such a chown (EINVAL),
 * so the step fails on its own there.
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
          hint: `${OTHER_WAYS}; for a glibc image, install fakeroot on the build host`,
        },
      );
    }
    return NOTHING;
  }
  const recorder = started.recorder;
  if (input.runner.kind === 'proot' && SETS_OWNERS.test(input.argv.join(' '))) {
    const unseen = await unrecordablePrograms({ rootfs: input.rootfs.dir, argv: input.argv, path: input.path, cwd: input.cwd }).catch(async (err: unknown) => {
      await recorder.discard();
      throw err;
    });
    if (unseen.length > 0) {
      await recorder.discard();
      throw unrecordable(unseen, input.location);
    }
  }
  return {
    mounts: recorder.mounts,
    env: recorder.env,
    finish: async () => {
      // Attributes are read back while faked still holds them. Only the walk can write a file whose one change is such an
      // attribute (an overlay's upper dir never has it; no runner that records owners uses one today).
      let carried = (await recorder.xattrNamesSet()).filter(isCarriedXattr);
      let xattrs: FakedXattrs | undefined;
      if (carried.length > 0 && input.rootfs.snapshotKind === 'walk') {
        xattrs = await recorder.xattrValues(input.rootfs.dir, carried);
        // A name whose log line came late: read again, with it.
        const more = (await recorder.xattrNamesSet()).filter(isCarriedXattr);
        if (xattrs !== undefined && more.some((name) => !carried.includes(name))) {
          carried = more;
          xattrs = await recorder.xattrValues(input.rootfs.dir, carried);
        }
      }
      const recorded = await recorder.stop();
      const lost = recorded.xattrCalls.filter(isCarriedXattr).filter((name) => xattrs === undefined || !carried.includes(name));
      if (lost.length > 0) {
        const why = input.rootfs.snapshotKind !== 'walk' ? 'snapshot' : xattrs === undefined ? 'unread' : 'late';
        throw xattrsUnrecordable(lost, input.runner.kind, input.location, why, input.rootfs.snapshotKind);
      }
      return { owners: recorded.owners, ...(xattrs !== undefined && xattrs.size > 0 ? { xattrs } : {}) };
    },
    discard: () => recorder.discard(),
  };
}

/** `chown (found in PATH at /usr/local/bin/chown, which is /usr/bin/busybox in the image)`, `/bin/busybox`. */
function describeProgram(p: UnrecordableProgram): string {
  const is = p.file === p.at ? '' : `which is ${p.file} in the image`;
  if (p.named.includes('/')) return is === '' ? p.named : `${p.named} (${is})`;
  return `${p.named} (found in PATH at ${p.at}${is === '' ? '' : `, ${is}`})`;
}

function whatItIs(p: UnrecordableProgram): string {
  if (p.why === 'shell') return `its shell ${describeProgram(p)} is a statically linked busybox, which runs its own chown`;
  if (p.why === 'other-libc') return `it runs ${describeProgram(p)}, which is linked against another libc than glibc (its loader is ${p.interpreter ?? 'unknown'})`;
  return `it runs ${describeProgram(p)}, which is statically linked`;
}

function unrecordable(programs: readonly UnrecordableProgram[], location: SourceLocation): DockerfileError {
  const first = programs[0] as UnrecordableProgram;
  return new DockerfileError(
    'RUN_OWNERS_UNRECORDABLE',
    `the owners this step sets cannot be kept: ${programs.map(whatItIs).join('; ')}. The proot runner fakes root over hoist's own uid, so the kernel stores no other owner and proot reports success without one; hoist records owners through fakeroot, which sees only programs that set them through the image's glibc`,
    location,
    {
      hint: `use the image's dynamically linked chown (coreutils' /bin/chown in Debian and Ubuntu) instead of ${first.at}; or ${OTHER_WAYS}`,
    },
  );
}

/** Why attributes a step set through fakeroot could not be kept: each with what to do. */
const UNKEPT = {
  unread: {
    why: 'hoist reads them back from faked with getfattr, which is not installed here (package attr) or failed',
    hint: 'install the attr package on the build host, or build as root (--isolation chroot) or as a user with a subordinate id range (--isolation userns)',
  },
  late: {
    why: 'faked reported the call only after hoist had read the attributes back from it',
    hint: 'run the build again; if it keeps failing, build as root (--isolation chroot) or as a user with a subordinate id range (--isolation userns)',
  },
  snapshot: {
    why: 'only the walk snapshotter can write a file whose one change is such an attribute',
    hint: 'build with --snapshot walk, or as root (--isolation chroot) or as a user with a subordinate id range (--isolation userns); `hoist doctor` shows what works here',
  },
} as const;

/** The step set attributes that a layer carries, which fakeroot only pretended to store. */
function xattrsUnrecordable(names: readonly string[], runner: string, location: SourceLocation, reason: keyof typeof UNKEPT, snapshot: string): DockerfileError {
  const what = names.length === 1 ? `the extended attribute ${names[0]}` : `the extended attributes ${names.join(', ')}`;
  const { why, hint } = UNKEPT[reason];
  return new DockerfileError(
    'RUN_XATTRS_UNRECORDABLE',
    `the step sets ${what} (setcap, setfattr), which cannot be kept here: the ${runner} runner fakes root over hoist's own uid, and fakeroot, which records the owners the step sets, keeps attributes only in memory; ${why}${reason === 'snapshot' ? `, and this build uses ${snapshot}` : ''}, so the layer would silently lack the change`,
    location,
    { hint },
  );
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
