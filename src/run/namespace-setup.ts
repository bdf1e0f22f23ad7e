/**
 * The mounts a namespace runner (userns, or chroot with a mount namespace)
 * makes before it enters the rootfs. They are made by a small sh script run
 * by the host's /bin/sh inside the new mount namespace, so they vanish with
 * it: nothing is mounted in the host's namespace, nothing left behind.
 *
 * The script reads operations from its arguments up to `--`, then runs the
 * rest (the command that chroots and switches ids) as its child and exits
 * with its status. It runs with the tools' own PATH and no variable of the
 * step. It stays as the PID namespace's init rather than exec'ing the step:
 * util-linux 2.38's unshare exits 1 ("sigprocmask unblock failed") when its
 * child dies of a signal, where this way a signal comes out as 128 + its
 * number, the exit code Docker reports for it.
 */

import { HoistError } from '../errors.js';

/** One mount operation; paths are absolute host paths (inside the rootfs where they are targets). */
export type MountOp =
  /** A tmpfs with these mount options (/dev's: nosuid,mode=755). */
  | { op: 'tmpfs'; target: string; options: string }
  /** An overlay mounted on `target`; must come before every other op, which then land on it. */
  | { op: 'overlay'; options: string; target: string }
  /** An empty file in a tmpfs made by an earlier op, with the host's device `source` bound over it. */
  | { op: 'device'; source: string; target: string }
  | { op: 'dir'; target: string }
  /** An empty file, unless something is there already. */
  | { op: 'file'; target: string }
  | { op: 'link'; value: string; target: string }
  /** A fresh proc mount, or the host's /proc bound recursively where a fresh one is refused. */
  | { op: 'proc'; target: string }
  | { op: 'bind'; source: string; target: string; readonly: boolean };

export const SETUP_SCRIPT = `set -eu
m=$1; shift
fail() { echo "hoist: $*" >&2; exit 125; }
while [ "$1" != -- ]; do
  case $1 in
  overlay) "$m" -t overlay -o "$2" hoist-overlay "$3" || fail "cannot mount an overlay on $3"; shift 3 ;;
  tmpfs) "$m" -t tmpfs -o "$2" hoist-tmpfs "$3" || fail "cannot mount a tmpfs on $3"; shift 3 ;;
  device) : > "$3"; "$m" --bind "$2" "$3" || fail "cannot bind $2"; shift 3 ;;
  dir) mkdir -p "$2"; shift 2 ;;
  file) [ -e "$2" ] || : > "$2"; shift 2 ;;
  link) ln -s "$2" "$3"; shift 3 ;;
  proc) "$m" -t proc -o nosuid,nodev,noexec proc "$2" 2>/dev/null || "$m" --rbind /proc "$2" || fail "cannot mount or bind /proc on $2"; shift 2 ;;
  bind) "$m" --bind "$2" "$3" || fail "cannot bind $2 to $3"; shift 3 ;;
  robind) "$m" --bind -o ro "$2" "$3" || fail "cannot bind $2 read-only to $3"; shift 3 ;;
  *) fail "unknown setup operation $1" ;;
  esac
done
shift
set +e
"$@"
exit $?
`;

/** The script's arguments for `ops`, ending with the `--` before the command. */
export function setupArgs(mount: string, ops: readonly MountOp[]): string[] {
  const args = [mount];
  for (const o of ops) {
    switch (o.op) {
      case 'tmpfs':
        args.push('tmpfs', o.options, o.target);
        break;
      case 'dir':
      case 'file':
      case 'proc':
        args.push(o.op, o.target);
        break;
      case 'overlay':
        args.push('overlay', o.options, o.target);
        break;
      case 'device':
        args.push('device', o.source, o.target);
        break;
      case 'link':
        args.push('link', o.value, o.target);
        break;
      case 'bind':
        args.push(o.readonly ? 'robind' : 'bind', o.source, o.target);
        break;
    }
  }
  args.push('--');
  return args;
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
  return { op: 'overlay', options: options.join(','), target: rootfs };
}
