/**
 * The rows of ../shared/TESTBED.md "Where hoist's users run it", recreated
 * with podman: a minimal container root whose /usr (node, util-linux, proot)
 * is the host's, read-only, with hoist's dist bound in, and the seccomp
 * profile, capabilities and user of the row.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './cli.js';

const SHARED = path.resolve(REPO_ROOT, '../shared');
export const DOCKER_SECCOMP = path.join(SHARED, 'testbed/seccomp-docker-default.json');
const CONTAINERS_CONF = path.join(SHARED, 'testbed/containers.conf');

export interface PodmanRow {
  name: string;
  /** `podman run` options that make the row. */
  options: string[];
  /** The uid (and gid) the container runs as. */
  uid: number;
}

export const GITLAB_ROW: PodmanRow = {
  name: 'GitLab docker executor: root, Docker default capabilities and seccomp',
  options: ['--security-opt', `seccomp=${DOCKER_SECCOMP}`],
  uid: 0,
};

export const FARGATE_ROW: PodmanRow = {
  name: 'AWS Fargate: root, Docker default capabilities and seccomp, SYS_PTRACE',
  options: ['--security-opt', `seccomp=${DOCKER_SECCOMP}`, '--cap-add', 'SYS_PTRACE'],
  uid: 0,
};

export const RESTRICTED_ROW: PodmanRow = {
  name: 'restricted pod: non-root, all capabilities dropped, default seccomp',
  options: ['--security-opt', `seccomp=${DOCKER_SECCOMP}`, '--user', '1000:1000', '--cap-drop', 'all'],
  uid: 1000,
};

export const PODMAN_ROOT_ROW: PodmanRow = {
  name: "podman's default seccomp, root",
  options: [],
  uid: 0,
};

export const PODMAN_USER_ROW: PodmanRow = {
  name: "podman's default seccomp, non-root",
  options: ['--user', '1000:1000'],
  uid: 1000,
};

/** A bind mount: host path, container path, read-only or not. */
export type Bind = [host: string, container: string, mode: 'ro' | 'rw'];

export interface PodmanResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * podman with its own storage under a scratch directory, so tests leave
 * nothing in the host's; `dispose` resets and removes it.
 */
export class PodmanSandbox {
  private constructor(
    /** Scratch space for the test: container roots, contexts, outputs. */
    readonly work: string,
    /** podman refuses a runroot longer than 50 characters, which the test run's TMPDIR can make. */
    private readonly runroot: string,
  ) {}

  static async create(prefix: string): Promise<PodmanSandbox> {
    const work = await mkdtemp(path.join(tmpdir(), prefix));
    const runroot = await mkdtemp(path.join(tmpdir().length < 30 ? tmpdir() : '/tmp', 'hoist-rr-'));
    // A container's non-root user must reach what is bound from under here.
    await chmod(work, 0o755);
    return new PodmanSandbox(work, runroot);
  }

  private storageArgs(): string[] {
    return ['--root', path.join(this.work, 'storage'), '--runroot', this.runroot];
  }

  /**
   * A container root with nothing of its own but /etc and the mount points
   * `dirs`: /usr (and so /bin, /lib) is the host's, read-only.
   */
  async makeContainerRoot(dirs: string[]): Promise<string> {
    const dir = await mkdtemp(path.join(this.work, 'container-'));
    await chmod(dir, 0o755);
    for (const d of ['usr', 'etc', 'tmp', 'proc', 'dev', 'sys', 'hoist', ...dirs]) await mkdir(path.join(dir, d), { recursive: true });
    for (const l of ['bin', 'lib', 'lib64', 'sbin']) await symlink(`usr/${l}`, path.join(dir, l));
    await writeFile(path.join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    await writeFile(path.join(dir, 'etc/group'), 'root:x:0:\n');
    await chmod(path.join(dir, 'tmp'), 0o1777);
    return dir;
  }

  /** Run `command` in the row's container on `containerRoot`, with hoist at /hoist and node on PATH; /tmp is a tmpfs. */
  run(row: PodmanRow, containerRoot: string, binds: Bind[], command: string[], opts: { env?: Record<string, string> } = {}): PodmanResult {
    const r = spawnSync(
      'podman',
      [
        ...this.storageArgs(),
        'run', '--rm', ...row.options,
        '-v', '/usr:/usr:ro',
        '-v', `${path.join(REPO_ROOT, 'dist')}:/hoist/dist:ro`,
        '-v', `${path.join(REPO_ROOT, 'node_modules')}:/hoist/node_modules:ro`,
        '-v', `${path.join(REPO_ROOT, 'package.json')}:/hoist/package.json:ro`,
        ...binds.flatMap(([host, inside, mode]) => ['-v', `${host}:${inside}:${mode}`]),
        ...Object.entries(opts.env ?? {}).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
        '--tmpfs', '/tmp:mode=1777',
        '--rootfs', containerRoot,
        ...command,
      ],
      { encoding: 'utf8', env: { ...process.env, CONTAINERS_CONF }, timeout: 10 * 60_000 },
    );
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  async dispose(): Promise<void> {
    spawnSync('podman', [...this.storageArgs(), 'system', 'reset', '-f'], { env: { ...process.env, CONTAINERS_CONF } });
    // podman's overlay driver bind-mounts storage/overlay onto itself, and a reset does not always undo it: rm would leave the tree behind.
    for (const mountPoint of mountsUnder(this.work)) spawnSync('umount', ['-l', mountPoint]);
    await rm(this.work, { recursive: true, force: true });
    await rm(this.runroot, { recursive: true, force: true });
  }
}

/** Mount points at or below `dir` (this process's view), deepest first. */
function mountsUnder(dir: string): string[] {
  let text = '';
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  // Field 5 is the mount point, with space, tab, newline and backslash written as octal escapes.
  const points = text
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
  return points.filter((p) => p === dir || p.startsWith(`${dir}/`)).sort((a, b) => b.length - a.length);
}

/**
 * "Shell runner or laptop": an ordinary user with a subordinate id range,
 * made on the host with useradd (which grants 65536 ids from /etc/login.defs).
 */
export const ROOTLESS_USER = 'hoist-rootless';

export interface RootlessUser {
  uid: number;
  gid: number;
  /** The first id of its /etc/subuid range. */
  subStart: number;
}

export function ensureRootlessUser(): RootlessUser {
  if (spawnSync('id', ['-u', ROOTLESS_USER]).status !== 0) {
    if (process.getuid?.() !== 0) throw new Error(`this test needs the user ${ROOTLESS_USER} (useradd -M ${ROOTLESS_USER}, as root)`);
    execFileSync('useradd', ['-M', '-s', '/usr/sbin/nologin', ROOTLESS_USER]);
  }
  const uid = Number(execFileSync('id', ['-u', ROOTLESS_USER], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', ROOTLESS_USER], { encoding: 'utf8' }).trim());
  const line = execFileSync('grep', [`^${ROOTLESS_USER}:`, '/etc/subuid'], { encoding: 'utf8' }).trim().split('\n')[0] as string;
  return { uid, gid, subStart: Number(line.split(':')[1]) };
}

/** Run node with `args` as the rootless user, with a clean environment plus `env`. */
export function runAsRootlessUser(args: string[], env: Record<string, string>): PodmanResult {
  const r = spawnSync(
    'setpriv',
    [`--reuid=${ROOTLESS_USER}`, `--regid=${ROOTLESS_USER}`, '--init-groups', 'env', '-i', 'PATH=/usr/bin:/bin', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), process.execPath, ...args],
    { encoding: 'utf8', cwd: '/', timeout: 10 * 60_000 },
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
