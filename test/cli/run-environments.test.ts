/**
 * The rows of ../shared/TESTBED.md "Where hoist's users run it", recreated
 * with podman: hoist's dist and the host's /usr (node, util-linux, proot)
 * bound into a minimal container, whose seccomp profile, capabilities and
 * user are those of the row. In each, `hoist doctor` must pick the runner
 * the issue names, and that runner must run a step on a busybox rootfs and
 * leave it unchanged.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeBusyboxRootfs } from '../helpers/busybox-rootfs.js';
import { buildCli, REPO_ROOT } from '../helpers/cli.js';
import { ensureDebianPackages } from '../helpers/packages.js';
import { listTree } from '../helpers/rootfs-listing.js';

const SHARED = path.resolve(REPO_ROOT, '../shared');
const SECCOMP = path.join(SHARED, 'testbed/seccomp-docker-default.json');

/** Run inside the container: probe, pick for `needs`, run one step, print the outcome as JSON. */
const STEP_SCRIPT = `
import { tmpdir, userInfo } from 'node:os';
const run = await import('/hoist/dist/src/run/index.js');
const [uid, gid, switchIds] = process.argv.slice(2).map(Number);
const tools = run.findHostTools(process.env.PATH);
const euid = process.geteuid();
let user; try { user = userInfo().username; } catch { user = String(euid); }
const probe = await run.probeHost({ tools, tmpDir: tmpdir(), euid, user });
const sel = run.selectRunner(probe, { switchIds: switchIds === 1 }, 'auto', { tools, tmpDir: tmpdir() });
let stdout = '';
const r = await sel.runner.run(
  { argv: ['/bin/sh', '-c', 'id -u; id -g; echo "$SECRET"; pwd'], env: { PATH: '/bin' }, cwd: '/tmp', uid, gid, groups: [], rootfs: '/rootfs', mounts: [], network: 'default' },
  { stdout: (c) => (stdout += c), stderr: (c) => process.stderr.write(c) },
);
console.log(JSON.stringify({ kind: sel.runner.kind, reason: sel.reason, notes: sel.notes, exitCode: r.exitCode, stdout }));
`;

let work: string;
/** podman refuses a runroot longer than 50 characters, which the test run's TMPDIR can make. */
let runroot: string;

function podmanArgs(): string[] {
  return ['--root', path.join(work, 'storage'), '--runroot', runroot];
}

interface Row {
  name: string;
  options: string[];
  /** The owner the rootfs has, as hoist running as that user would have unpacked it. */
  owner: number;
  pick: { root: string; nonRootUser: string };
}

const ROWS: Row[] = [
  {
    name: 'GitLab docker executor: root, Docker default capabilities and seccomp',
    options: ['--security-opt', `seccomp=${SECCOMP}`],
    owner: 0,
    pick: { root: 'chroot', nonRootUser: 'chroot' },
  },
  {
    name: 'restricted pod: non-root, all capabilities dropped, default seccomp',
    options: ['--security-opt', `seccomp=${SECCOMP}`, '--user', '1000:1000', '--cap-drop', 'all'],
    owner: 1000,
    pick: { root: 'proot', nonRootUser: 'proot' },
  },
  {
    name: "podman's default seccomp, root",
    options: [],
    owner: 0,
    pick: { root: 'userns', nonRootUser: 'chroot' },
  },
];

/** A container root with nothing of its own but /etc: /usr (and so /bin, /lib) is the host's, read-only. */
async function makeContainerRoot(dir: string): Promise<void> {
  for (const d of ['usr', 'etc', 'tmp', 'proc', 'dev', 'sys', 'hoist', 'rootfs', 'work']) await mkdir(path.join(dir, d), { recursive: true });
  for (const l of ['bin', 'lib', 'lib64', 'sbin']) await symlink(`usr/${l}`, path.join(dir, l));
  await writeFile(path.join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  await writeFile(path.join(dir, 'etc/group'), 'root:x:0:\n');
  await chmod(path.join(dir, 'tmp'), 0o1777);
}

function podmanRun(row: Row, rootfs: string, croot: string, command: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(
    'podman',
    [
      ...podmanArgs(),
      'run', '--rm', ...row.options,
      '-v', '/usr:/usr:ro',
      '-v', `${path.join(REPO_ROOT, 'dist')}:/hoist/dist:ro`,
      '-v', `${path.join(REPO_ROOT, 'node_modules')}:/hoist/node_modules:ro`,
      '-v', `${path.join(REPO_ROOT, 'package.json')}:/hoist/package.json:ro`,
      '-v', `${path.join(work, 'step.mjs')}:/work/step.mjs:ro`,
      '-v', `${rootfs}:/rootfs`,
      '--tmpfs', '/tmp:mode=1777',
      '--rootfs', croot,
      ...command,
    ],
    { encoding: 'utf8', env: { ...process.env, CONTAINERS_CONF: path.join(SHARED, 'testbed/containers.conf') }, timeout: 5 * 60_000 },
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  await ensureDebianPackages(['podman', 'proot', 'uidmap', 'busybox-static']);
  buildCli();
  work = await mkdtemp(path.join(tmpdir(), 'hoist-run-envs-'));
  runroot = await mkdtemp(path.join(tmpdir().length < 30 ? tmpdir() : '/tmp', 'hoist-rr-'));
  await writeFile(path.join(work, 'step.mjs'), STEP_SCRIPT);
}, 15 * 60_000);

afterAll(async () => {
  if (work === undefined) return;
  spawnSync('podman', [...podmanArgs(), 'system', 'reset', '-f'], { env: { ...process.env, CONTAINERS_CONF: path.join(SHARED, 'testbed/containers.conf') } });
  await rm(work, { recursive: true, force: true });
  await rm(runroot, { recursive: true, force: true });
});

describe.each(ROWS)('$name', (row) => {
  it(`doctor picks ${row.pick.root} (${row.pick.nonRootUser} under a non-root USER), and the runner runs a step`, async () => {
    const dir = await mkdtemp(path.join(work, 'row-'));
    const croot = path.join(dir, 'container');
    const rootfs = path.join(dir, 'rootfs');
    await makeContainerRoot(croot);
    await makeBusyboxRootfs(rootfs);
    await chmod(rootfs, 0o755);
    if (row.owner !== 0) execFileSync('chown', ['-R', '-h', `${row.owner}:${row.owner}`, rootfs]);
    // The container's user must reach the bound paths.
    await chmod(dir, 0o755);
    await chmod(work, 0o755);
    const before = await listTree(rootfs);

    const doctor = podmanRun(row, rootfs, croot, ['node', '/hoist/dist/cmd/hoist.js', 'doctor', '--format', 'json']);
    expect(doctor.stderr).toBe('');
    expect(doctor.status).toBe(0);
    const report = JSON.parse(doctor.stdout) as { auto: { root: { kind: string }; nonRootUser: { kind: string } }; checks: { name: string; ok: boolean }[] };
    expect({ root: report.auto.root.kind, nonRootUser: report.auto.nonRootUser.kind }).toEqual(row.pick);

    const text = podmanRun(row, rootfs, croot, ['node', '/hoist/dist/cmd/hoist.js', 'doctor']);
    expect(text.stdout).toContain(`--isolation auto picks: ${row.pick.root} (`);

    for (const [uid, want] of [
      [0, row.pick.root],
      [1234, row.pick.nonRootUser],
    ] as const) {
      const step = podmanRun(row, rootfs, croot, ['env', 'SECRET=hoist-own', 'node', '/work/step.mjs', String(uid), String(uid === 0 ? 0 : 2345), uid === 0 ? '0' : '1']);
      expect(step.status, step.stderr).toBe(0);
      const out = JSON.parse(step.stdout.trim().split('\n').pop() as string) as { kind: string; exitCode: number; stdout: string; notes: string[] };
      expect(out.kind).toBe(want);
      // Ids as asked, the working directory, and nothing of hoist's environment (SECRET) inside.
      expect(out).toMatchObject({ exitCode: 0, stdout: `${uid}\n${uid === 0 ? 0 : 2345}\n\n/tmp\n` });
      if (out.kind === 'chroot' && row.pick.root === 'chroot') expect(out.notes).toContain('no mount namespace here: steps run without /proc');
    }
    expect(await listTree(rootfs)).toEqual(before);
  });
});

/**
 * "Shell runner or laptop": an ordinary user with a subordinate id range,
 * made on the host with useradd (which grants 65536 ids from /etc/login.defs).
 * userns must be picked for every step, and a non-root USER's files must get
 * the mapped owner.
 */
describe('an ordinary user with a subuid range (useradd on the host)', () => {
  const USER = 'hoist-rootless';

  function ensureUser(): { uid: number; gid: number; subStart: number } {
    if (spawnSync('id', ['-u', USER]).status !== 0) {
      if (process.getuid?.() !== 0) throw new Error(`this test needs the user ${USER} (useradd -M ${USER}, as root)`);
      execFileSync('useradd', ['-M', '-s', '/usr/sbin/nologin', USER]);
    }
    const uid = Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', USER], { encoding: 'utf8' }).trim());
    const line = execFileSync('grep', [`^${USER}:`, '/etc/subuid'], { encoding: 'utf8' }).trim().split('\n')[0] as string;
    return { uid, gid, subStart: Number(line.split(':')[1]) };
  }

  function asUser(args: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync('setpriv', [`--reuid=${USER}`, `--regid=${USER}`, '--init-groups', 'env', '-i', 'PATH=/usr/bin:/bin', `TMPDIR=${path.join(work, 'user-tmp')}`, process.execPath, ...args], {
      encoding: 'utf8',
      cwd: '/',
      timeout: 5 * 60_000,
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  it('doctor picks userns for root and non-root steps, and a USER step writes files owned by its mapped id', async () => {
    const { uid, gid, subStart } = ensureUser();
    const dir = await mkdtemp(path.join(work, 'laptop-'));
    // The user must reach its rootfs and scratch directory: let it through the test run's directories.
    await chmod(dir, 0o755);
    await chmod(work, 0o755);
    await chmod(tmpdir(), 0o711);
    const rootfs = path.join(dir, 'rootfs');
    await makeBusyboxRootfs(rootfs);
    await chmod(rootfs, 0o755);
    execFileSync('chown', ['-R', '-h', `${uid}:${gid}`, rootfs]);
    await mkdir(path.join(work, 'user-tmp'), { recursive: true });
    execFileSync('chown', [`${uid}:${gid}`, path.join(work, 'user-tmp')]);

    const doctor = asUser([path.join(REPO_ROOT, 'dist/cmd/hoist.js'), 'doctor', '--format', 'json']);
    expect(doctor.status, doctor.stderr).toBe(0);
    const report = JSON.parse(doctor.stdout) as { auto: { root: { kind: string }; nonRootUser: { kind: string } } };
    expect({ root: report.auto.root.kind, nonRootUser: report.auto.nonRootUser.kind }).toEqual({ root: 'userns', nonRootUser: 'userns' });

    const script = path.join(dir, 'step.mjs');
    await writeFile(
      script,
      `const run = await import(${JSON.stringify(path.join(REPO_ROOT, 'dist/src/run/index.js'))});
const { tmpdir, userInfo } = await import('node:os');
const tools = run.findHostTools(process.env.PATH);
const probe = await run.probeHost({ tools, tmpDir: tmpdir(), euid: process.geteuid(), user: userInfo().username });
const sel = run.selectRunner(probe, { switchIds: true }, 'auto', { tools, tmpDir: tmpdir() });
let stdout = '';
const r = await sel.runner.run({ argv: ['/bin/sh', '-c', 'id -u; id -G; touch /tmp/by-app'], env: { PATH: '/bin' }, cwd: '/tmp', uid: 1234, gid: 2345, groups: [2345, 50], rootfs: ${JSON.stringify(rootfs)}, mounts: [], network: 'default' },
  { stdout: (c) => (stdout += c), stderr: (c) => process.stderr.write(c) });
console.log(JSON.stringify({ kind: sel.runner.kind, exitCode: r.exitCode, stdout }));
`,
    );
    const step = asUser([script]);
    expect(step.status, step.stderr).toBe(0);
    expect(JSON.parse(step.stdout)).toEqual({ kind: 'userns', exitCode: 0, stdout: '1234\n2345 50\n' });
    // Id n inside is subStart + n - 1 outside (root is the user itself).
    const owner = execFileSync('stat', ['-c', '%u:%g', path.join(rootfs, 'tmp/by-app')], { encoding: 'utf8' }).trim();
    expect(owner).toBe(`${subStart + 1233}:${subStart + 2344}`);
  });
});
