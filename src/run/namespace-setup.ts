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

/** One mount operation; paths are absolute host paths (inside the rootfs where they are targets). */
export type MountOp =
  | { op: 'tmpfs'; target: string }
  /** An empty file in a tmpfs made by an earlier op, with the host's device `source` bound over it. */
  | { op: 'device'; source: string; target: string }
  | { op: 'dir'; target: string }
  | { op: 'link'; value: string; target: string }
  /** A fresh proc mount, or the host's /proc bound recursively where a fresh one is refused. */
  | { op: 'proc'; target: string }
  | { op: 'bind'; source: string; target: string; readonly: boolean };

export const SETUP_SCRIPT = `set -eu
m=$1; shift
fail() { echo "hoist: $*" >&2; exit 125; }
while [ "$1" != -- ]; do
  case $1 in
  tmpfs) "$m" -t tmpfs -o nosuid,mode=755 hoist-dev "$2" || fail "cannot mount a tmpfs on $2"; shift 2 ;;
  device) : > "$3"; "$m" --bind "$2" "$3" || fail "cannot bind $2"; shift 3 ;;
  dir) mkdir -p "$2"; shift 2 ;;
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
      case 'dir':
      case 'proc':
        args.push(o.op, o.target);
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
