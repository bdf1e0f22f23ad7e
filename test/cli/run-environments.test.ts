/**
 * The rows of ../shared/TESTBED.md "Where hoist's users run it", recreated
 * with podman: hoist's dist and the host's /usr (node, util-linux, proot)
 * bound into a minimal container, whose seccomp profile, capabilities and
 * user are those of the row. In each, `hoist doctor` must pick the runner
 * the issue names, and that runner must run a step on a busybox rootfs and
 * leave it unchanged.
 */
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeBusyboxRootfs } from '../helpers/busybox-rootfs.js';
import { buildCli, REPO_ROOT } from '../helpers/cli.js';
import { ensureDebianPackages } from '../helpers/packages.js';
import {
  ensureRootlessUser,
  GITLAB_ROW,
  PODMAN_ROOT_ROW,
  PodmanSandbox,
  RESTRICTED_ROW,
  runAsRootlessUser,
  type Bind,
  type PodmanRow,
} from '../helpers/podman-rows.js';
import { listTree } from '../helpers/rootfs-listing.js';

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

let sandbox: PodmanSandbox;
let work: string;

interface Row extends PodmanRow {
  pick: { root: string; nonRootUser: string };
}

const ROWS: Row[] = [
  { ...GITLAB_ROW, pick: { root: 'chroot', nonRootUser: 'chroot' } },
  { ...RESTRICTED_ROW, pick: { root: 'proot', nonRootUser: 'proot' } },
  { ...PODMAN_ROOT_ROW, pick: { root: 'userns', nonRootUser: 'chroot' } },
];

function podmanRun(row: Row, rootfs: string, croot: string, command: string[]): { status: number | null; stdout: string; stderr: string } {
  const binds: Bind[] = [
    [path.join(work, 'step.mjs'), '/work/step.mjs', 'ro'],
    [rootfs, '/rootfs', 'rw'],
  ];
  return sandbox.run(row, croot, binds, command);
}

beforeAll(async () => {
  await ensureDebianPackages(['podman', 'proot', 'uidmap', 'busybox-static']);
  buildCli();
  sandbox = await PodmanSandbox.create('hoist-run-envs-');
  work = sandbox.work;
  await writeFile(path.join(work, 'step.mjs'), STEP_SCRIPT);
}, 15 * 60_000);

afterAll(async () => {
  await sandbox?.dispose();
});

describe.each(ROWS)('$name', (row) => {
  it(`doctor picks ${row.pick.root} (${row.pick.nonRootUser} under a non-root USER), and the runner runs a step`, async () => {
    const dir = await mkdtemp(path.join(work, 'row-'));
    const croot = await sandbox.makeContainerRoot(['rootfs', 'work']);
    const rootfs = path.join(dir, 'rootfs');
    await makeBusyboxRootfs(rootfs);
    await chmod(rootfs, 0o755);
    if (row.uid !== 0) execFileSync('chown', ['-R', '-h', `${row.uid}:${row.uid}`, rootfs]);
    // The container's user must reach the bound paths.
    await chmod(dir, 0o755);
    const before = await listTree(rootfs);

    const doctor = podmanRun(row, rootfs, croot, ['node', '/hoist/dist/bin/hoist.cjs', 'doctor', '--format', 'json']);
    expect(doctor.stderr).toBe('');
    expect(doctor.status).toBe(0);
    const report = JSON.parse(doctor.stdout) as { auto: { root: { kind: string }; nonRootUser: { kind: string } }; checks: { name: string; ok: boolean }[] };
    expect({ root: report.auto.root.kind, nonRootUser: report.auto.nonRootUser.kind }).toEqual(row.pick);

    const text = podmanRun(row, rootfs, croot, ['node', '/hoist/dist/bin/hoist.cjs', 'doctor']);
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
  function asUser(args: string[]): { status: number | null; stdout: string; stderr: string } {
    return runAsRootlessUser(args, { TMPDIR: path.join(work, 'user-tmp') });
  }

  it('doctor picks userns for root and non-root steps, and a USER step writes files owned by its mapped id', async () => {
    const { uid, gid, subStart } = ensureRootlessUser();
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

    const doctor = asUser([path.join(REPO_ROOT, 'dist/bin/hoist.cjs'), 'doctor', '--format', 'json']);
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
