/**
 * The mounts a namespace runner (userns, or chroot with a mount namespace)
 * makes before it enters the rootfs. They are made by a small sh script run
 * by the host's /bin/sh inside the new mount namespace, so they vanish with
 * it: nothing is mounted in the host's namespace, nothing left behind.
 *
 * The script reads operations from its arguments up to `--`, then runs the
 * rest (the command that chroots and switches ids) with its status as the
 * script's. It runs with the tools' own PATH and no variable of the step.
 *
 * No process the step can see may have the host's root: a root step could
 * reach the host's files through its /proc/PID/root. So the step gets a PID
 * namespace of its own, nested in the one unshare made, and /proc is mounted
 * from inside it: the script execs `unshare --pid` into a host sh (STEP_INIT)
 * that stays outside it, and whose first child, the new namespace's PID 1,
 * mounts /proc and then execs the step (which enters the rootfs), so PID 1 is
 * the step itself, as in Docker's RUN. That sh waits for it and exits with
 * its status: util-linux 2.38's `unshare --fork` exits 1 ("sigprocmask
 * unblock failed") when its child dies of a signal, where a shell gives
 * 128 + its number, the exit code Docker reports for it.
 *
 * Where a fresh /proc is refused (a container whose /proc has masked paths),
 * the host's /proc is bound instead, and the step sees the host's processes:
 * `hoist doctor` says which of the two a machine gets.
 */

import { HoistError } from '../errors.js';

/** One mount operation; paths are absolute host paths (inside the rootfs where they are targets). */
export type MountOp =
  /** A tmpfs with these mount options (/dev's: nosuid,mode=755). */
  | { op: 'tmpfs'; target: string; options: string }
  /**
   * An overlay mounted on `target`; must come before every other op, which then
   * land on it. The setup script tries it with `volatile` (Linux 5.10+) first:
   * without it the overlay's unmount (the namespace's end) syncs the whole
   * filesystem of the upper dir, and every fsync of the step (dpkg makes one
   * per file) reaches the disk, for files that are scratch until hoist has
   * read them into a layer. buildah mounts its build containers so too. A
   * volatile mount that failed may have left its mark in `workdir/work`,
   * which would refuse the retry without it: the retry starts from a clean
   * work dir, so its error is the one shown.
   */
  | { op: 'overlay'; options: string; target: string; workdir: string }
  /** `cp -a SOURCE/. TARGET/`: a prepared tree (the /dev skeleton) copied into a tmpfs made by an earlier op. */
  | { op: 'populate'; source: string; target: string }
  /**
   * A devpts instance of the step's own on `target` (/dev/pts), as runc
   * mounts it: ptmx usable by all, new ptys for the tty group (gid 5, where
   * the id map has it). Where the kernel refuses it the step has no ptys,
   * as before: nothing fails.
   */
  | { op: 'devpts'; target: string }
  /**
   * The mounts of an fstab file (`fstabText`), made by one `mount -a` (a
   * mount process each costs about as much as the rest of the setup); their
   * targets must exist already. libmount reads only a regular file, not a pipe.
   */
  | { op: 'fstab'; file: string }
  | { op: 'dir'; target: string }
  /** One new directory, 0755 (the step's working directory, made where the step's changes land); its parent exists. */
  | { op: 'workdir'; target: string }
  /** An empty file, unless something is there already. */
  | { op: 'file'; target: string }
  | { op: 'link'; value: string; target: string }
  | { op: 'bind'; source: string; target: string; readonly: boolean };

export const SETUP_SCRIPT = `set -eu
m=$1; shift
fail() { echo "hoist: $*" >&2; exit 125; }
while [ "$1" != -- ]; do
  case $1 in
  overlay) "$m" -t overlay -o "$2,volatile" hoist-overlay "$3" 2>/dev/null || { rm -rf "$4/work"; "$m" -t overlay -o "$2" hoist-overlay "$3"; } || fail "cannot mount an overlay on $3"; shift 4 ;;
  tmpfs) "$m" -t tmpfs -o "$2" hoist-tmpfs "$3" || fail "cannot mount a tmpfs on $3"; shift 3 ;;
  populate) cp -a "$2/." "$3/" || fail "cannot fill $3 from $2"; shift 3 ;;
  devpts) o=newinstance,ptmxmode=0666,mode=0620; "$m" -t devpts -o "$o,gid=5" devpts "$2" 2>/dev/null || "$m" -t devpts -o "$o" devpts "$2" 2>/dev/null || :; shift 2 ;;
  fstab) "$m" -a -T "$2" || fail "cannot make the step's bind mounts (see mount's message above)"; shift 2 ;;
  dir) mkdir -p "$2"; shift 2 ;;
  workdir) mkdir -m 755 "$2" || fail "cannot make the working directory $2"; shift 2 ;;
  file) [ -e "$2" ] || : > "$2"; shift 2 ;;
  link) ln -s "$2" "$3"; shift 3 ;;
  bind) "$m" --bind "$2" "$3" || fail "cannot bind $2 to $3"; shift 3 ;;
  robind) "$m" --bind -o ro "$2" "$3" || fail "cannot bind $2 read-only to $3"; shift 3 ;;
  *) fail "unknown setup operation $1" ;;
  esac
done
shift
u=$1; s=$2; p=$3; i=$4; shift 4
exec "$u" --pid -- "$s" -c "$i" hoist-init "$m" "$p" "$@"
`;

/**
 * Run by a host sh that `unshare --pid` made (see above): its first child is
 * the new PID namespace's init, which mounts /proc there (a fresh one, or
 * the host's bound where that is refused) and becomes the step.
 */
export const STEP_INIT = `m=$1; p=$2; shift 2
(
  "$m" -t proc -o nosuid,nodev,noexec proc "$p" 2>/dev/null || "$m" --rbind /proc "$p" || { echo "hoist: cannot mount or bind /proc on $p" >&2; exit 125; }
  exec "$@"
)
exit $?
`;

/** What runs the step once the mounts are made: `unshare` and `sh` of the host, and where the step's /proc goes. */
export interface StepLaunch {
  unshare: string;
  sh: string;
  proc: string;
}

/** The script's arguments for `ops`, then `--` and how the step is launched; the command follows. */
export function setupArgs(mount: string, ops: readonly MountOp[], launch: StepLaunch): string[] {
  const args = [mount];
  for (const o of ops) {
    switch (o.op) {
      case 'tmpfs':
        args.push('tmpfs', o.options, o.target);
        break;
      case 'dir':
      case 'workdir':
      case 'devpts':
      case 'file':
        args.push(o.op, o.target);
        break;
      case 'overlay':
        args.push('overlay', o.options, o.target, o.workdir);
        break;
      case 'populate':
        args.push('populate', o.source, o.target);
        break;
      case 'fstab':
        args.push('fstab', o.file);
        break;
      case 'link':
        args.push('link', o.value, o.target);
        break;
      case 'bind':
        args.push(o.readonly ? 'robind' : 'bind', o.source, o.target);
        break;
    }
  }
  args.push('--', launch.unshare, launch.sh, launch.proc, STEP_INIT);
  return args;
}

/** Bind mounts as fstab lines, in order (`mount -a` mounts them in that order). */
export function fstabText(binds: readonly { source: string; target: string; readonly: boolean }[]): string {
  return binds.map((b) => `${fstabField(b.source)} ${fstabField(b.target)} none ${b.readonly ? 'bind,ro' : 'bind'} 0 0\n`).join('');
}

/** A path as an fstab field: every byte but a few plain ones as a `\ooo` octal escape, which libmount decodes (spaces, newlines, `#`). */
export function fstabField(p: string): string {
  let out = '';
  for (const byte of Buffer.from(p, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9/._+,=:@-]/.test(c) ? c : `\\${byte.toString(8).padStart(3, '0')}`;
  }
  return out;
}

/** The device nodes every step gets, bound from the host's /dev. */
export const DEVICES: readonly { name: string; major: number; minor: number }[] = [
  { name: 'null', major: 1, minor: 3 },
  { name: 'zero', major: 1, minor: 5 },
  { name: 'full', major: 1, minor: 7 },
  { name: 'random', major: 1, minor: 8 },
  { name: 'urandom', major: 1, minor: 9 },
  { name: 'tty', major: 5, minor: 0 },
];

/**
 * The overlay of `spec.overlay` over the rootfs, mounted on the rootfs itself
 * so that every other mount point is where it always is. In a user namespace
 * overlayfs keeps its marks in `user.overlay.*` (userxattr, kernel 5.11+),
 * as root in `trusted.overlay.*`. No index, metacopy or redirects: the upper
 * dir must hold whole files and plain whiteouts to be read as a layer.
 */
export function overlayOp(rootfs: string, overlay: { upper: string; work: string }, inUserNamespace: boolean): MountOp {
  for (const p of [rootfs, overlay.upper, overlay.work]) {
    if (/[,:\\]/.test(p)) {
      throw new HoistError('RUN_OVERLAY_PATH', `cannot mount an overlay with ${p}: overlayfs options cannot hold a path with ",", ":" or "\\"`, {
        hint: 'use a scratch directory (--tmp-dir or TMPDIR) whose path has none of them, or --snapshot walk',
      });
    }
  }
  const options = [`lowerdir=${rootfs}`, `upperdir=${overlay.upper}`, `workdir=${overlay.work}`, 'index=off', 'metacopy=off'];
  // redirect_dir=off conflicts with userxattr (which already implies no redirects).
  options.push(inUserNamespace ? 'userxattr' : 'redirect_dir=off');
  return { op: 'overlay', options: options.join(','), target: rootfs, workdir: overlay.work };
}
