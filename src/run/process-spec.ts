/**
 * What a runner executes and what it reports back. A RUN step becomes one
 * ProcessSpec; the runner decides how to isolate it (see the runners).
 */
import path from 'node:path';
import type { IdMap } from './id-map.js';

export type RunnerKind = 'userns' | 'chroot' | 'proot';
export const RUNNER_KINDS: readonly RunnerKind[] = ['userns', 'chroot', 'proot'];

/** `default` and `host` share the host's network (hoist sets up none of its own); `none` gives an empty one. */
export type NetworkMode = 'default' | 'none' | 'host';

/** A host path bound into the rootfs for the step (RUN --mount=type=bind, caches, secrets, an SSH agent's socket). */
export interface BindMount {
  kind?: 'bind';
  /** Absolute path on the host: a directory, a file or a socket. */
  source: string;
  /** Absolute path inside the rootfs. */
  target: string;
  readonly?: boolean;
  /**
   * `source` is not a copy made for this step (a cache mount's directory,
   * which later builds use): a runner that cannot make a bind read-only
   * must not bind it as it is when `readonly` is set.
   */
  shared?: boolean;
  /**
   * The step's writes must reach `source` (a cache mount). A runner that
   * cannot mount copies the source in and, for these, copies it back after
   * the step; other sources it copies in are discarded.
   */
  writeBack?: boolean;
}

/** An empty tmpfs for the step (RUN --mount=type=tmpfs), gone when it ends. */
export interface TmpfsMount {
  kind: 'tmpfs';
  /** Absolute path inside the rootfs. */
  target: string;
  /** Its size limit in bytes, where the runner can set one. */
  sizeBytes?: number;
}

export type StepMount = BindMount | TmpfsMount;

/** A name every shell passes on in the environment. */
export const SHELL_VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Why a private variable's name cannot be given to a step, or undefined when
 * it can. Runners set private variables in the environment of the host tools
 * that lead into the step (env, setpriv, nsenter, unshare, the setup sh,
 * proot), which run before the chroot, as root where hoist is: names that the
 * dynamic loader, libc, the shells or util-linux read would change what those
 * tools do (LD_PRELOAD loads a library named by the secret's value), and PATH
 * would have to go on a command line. glibc's list of variables it drops for
 * setuid programs (unsecvars.h), the shells', libmount's and proot's.
 */
export function unsafePrivateVariable(name: string): string | undefined {
  // BuildKit takes any name; the setup shell of the userns and chroot runners passes on only these, and every runner must give the step the same.
  if (!SHELL_VARIABLE_NAME.test(name)) return 'only letters, digits and _ (not first) make a name that every runner can pass on: a shell between hoist and the step drops the others';
  const hostTool = hostToolVariable(name);
  if (hostTool !== undefined) return hostTool;
  // What dash or bash (as /bin/sh) read or set from the environment; dash exits on an OPTIND that is no number, printing it.
  if (/^(IFS|ENV|BASH_ENV|SHELLOPTS|BASHOPTS|PS[1-4]|CDPATH|POSIXLY_CORRECT|PWD|OLDPWD|SHLVL|_|OPTIND|OPTARG|OPTERR|PPID|LINENO|RANDOM|SRANDOM|EPOCHSECONDS|EPOCHREALTIME|BASHPID|BASH|BASH_.*)$/.test(name)) return 'the shell that starts the step reads or sets it';
  if (name === 'PATH') return 'the tools that start the step need their own PATH';
  return undefined;
}

/**
 * Why a host tool that leads into the step (env, setpriv, nsenter, unshare,
 * proot: programs of the host, run before the chroot) acts on a variable of
 * this name, or undefined when none does: the dynamic loader and libc
 * (glibc's unsecvars.h), util-linux, proot.
 */
export function hostToolVariable(name: string): string | undefined {
  if (/^(LD_.*|GCONV_PATH|GETCONF_DIR|GLIBC_TUNABLES|HOSTALIASES|LOCALDOMAIN|LOCPATH|MALLOC_.*|NIS_PATH|NLSPATH|RESOLV_HOST_CONF|RES_OPTIONS|TMPDIR|TZDIR)$/.test(name)) {
    return 'the dynamic loader and libc read it in the host tools that start the step';
  }
  if (/^(LIBMOUNT_.*|LIBBLKID_.*|LIBSMARTCOLS_.*)$/.test(name)) return 'util-linux reads it in the tools that start the step';
  if (/^PROOT_/.test(name)) return 'proot reads it (PROOT_LOADER names a program it runs)';
  return undefined;
}

/** `/`, or `/proc` or `/sys` or a path below them, inside the image: where no step mount may go (links there lead out of the rootfs). */
export function kernelPath(target: string): boolean {
  const p = path.posix.normalize(`/${target}`);
  return p === '/' || /^\/(proc|sys)(\/|$)/.test(p);
}

export interface ProcessSpec {
  /** The command as exec'd (shell form has already gone through SHELL). */
  argv: readonly string[];
  /** The whole environment the step sees (with `privateEnv`), and nothing else: no variable of hoist's own reaches it. */
  env: Readonly<Record<string, string>>;
  /**
   * Variables the step also sees whose values must never be on a command
   * line, where any local user reads them (/proc/PID/cmdline): secrets
   * (RUN --mount=type=secret,env=). Runners pass them through the
   * environment of the processes they spawn, which only hoist's user reads.
   */
  privateEnv?: Readonly<Record<string, string>>;
  /** Working directory inside the rootfs (absolute); it must exist (or be one of `makeDirs`). */
  cwd: string;
  uid: number;
  gid: number;
  /** Supplementary groups. */
  groups: readonly number[];
  /** The root filesystem directory on the host. */
  rootfs: string;
  /**
   * Mounted in this order (a parent before what is mounted inside it); no
   * content of theirs, and no mount point a runner had to make, reaches the
   * rootfs once the step is done.
   */
  mounts: readonly StepMount[];
  network: NetworkMode;
  /**
   * Run the step on an overlay mount over `rootfs` (its lower dir) with
   * this upper and work dir, so the step's changes land in `upper` and the
   * rootfs stays as it was. Only runners with a mount namespace can.
   */
  overlay?: OverlaySpec;
  /**
   * With `overlay`: directories the runner makes on it before the step,
   * parent first, 0755 and owned by the step's root, so that they land in
   * the upper dir (the working directory's missing parts; their parent is
   * a real directory in the rootfs). Absolute paths inside the rootfs.
   */
  makeDirs?: readonly string[];
}

/** An overlay's upper and work dirs: on one filesystem, not overlayfs, and no `,` `:` or `\\` in their paths or the rootfs's. */
export interface OverlaySpec {
  upper: string;
  work: string;
}

/** Where the step's output goes, chunk by chunk as it comes. */
export interface RunIo {
  stdout(chunk: Buffer): void;
  stderr(chunk: Buffer): void;
}

export interface RunResult {
  /** The exit code; 128 + the signal number when a signal ended the step. */
  exitCode: number;
  /** The signal that ended the step, if one did. */
  signal?: NodeJS.Signals;
}

/** What a step asks of a runner beyond running as root with the host's network. */
export interface RunNeeds {
  /** Some step runs under a non-root USER (or with a non-root group). */
  switchIds?: boolean;
  /** Some step asks for RUN --network=none. */
  networkNone?: boolean;
}

export interface Runner {
  readonly kind: RunnerKind;
  /** RUN mounts are copies in the rootfs, copied back after the step (no mount can be made): two steps never see one cache directory at once. */
  readonly copiesMounts?: boolean;
  /** How the step's ids land on disk where they are not the same (hoist unprivileged); undefined: the same. */
  readonly idMap?: IdMap;
  /**
   * Put on disk owners hoist could not set as itself, where this runner's ids
   * can (a user namespace with a subordinate range); returns the paths stored,
   * with the ctime (ms) chown gave each.
   */
  storeOwners?(rootfs: string, owners: readonly { path: string; uid: number; gid: number }[]): Promise<{ path: string; ctimeMs: number }[]>;
  /** Give every file under `rootfs` back to hoist before it is removed (files the runner's ids own may be beyond hoist's reach). */
  releaseOwners?(rootfs: string): Promise<void>;
  /**
   * Give files under `rootfs` back to hoist, saying who owned each path
   * taken (as the image has it); storeOwners puts them back before the next
   * step. All of them, so hoist can apply a layer over them; with
   * `changedSince` (ms since the epoch, taken before a step ran), only what
   * hoist could not read of the step's changes, so it can snapshot them.
   */
  reclaimOwners?(rootfs: string, changedSince?: number): Promise<Map<string, { uid: number; gid: number }>>;
  /** Run the step; on `signal` abort, the step's whole process tree is killed and the promise rejects with the abort reason. */
  run(spec: ProcessSpec, io: RunIo, signal?: AbortSignal): Promise<RunResult>;
}
