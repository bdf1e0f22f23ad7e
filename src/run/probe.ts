import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fsError } from '../fs-errors.js';
import { openOverlayWorkDir } from '../overlay-workdir.js';
import { TOOL_PATH, type HostTools } from './host-tools.js';
import type { IdRange } from './userns-runner.js';
import type { RunnerKind } from './process-spec.js';

/** One thing that works here or does not, and why. */
export interface Check {
  ok: boolean;
  detail: string;
}

/** What the runners can use on this machine. Cheap to compute (a dozen short processes); done once per build. */
export interface HostProbe {
  euid: number;
  user: string;
  userNamespaces: Check & { blockers: string[] };
  /** The invoking user's subordinate ranges, and whether newuidmap/newgidmap map them. */
  subids: Check & { uid?: IdRange; gid?: IdRange };
  /** How /proc gets into a rootfs inside a user namespace. */
  procInUserns: Check & { how?: 'mount' | 'rbind' };
  overlayInUserns: Check;
  /** overlayfs mounted by root in a mount namespace (trusted.* xattrs), for the chroot runner; absent when not root. */
  overlayAsRoot?: Check;
  /** A mount and PID namespace without a user namespace (root with CAP_SYS_ADMIN), /proc mounted or bound. */
  mountNamespace: Check;
  /** chroot(2): CAP_SYS_CHROOT. */
  chroot: Check;
  /** Switching to another uid and gid: CAP_SETUID and CAP_SETGID. */
  setIds: Check;
  /** Making device nodes: CAP_MKNOD. */
  mknod: Check;
  proot: Check & { version?: string; killOnExit: boolean };
  bwrap: Check & { version?: string };
}

export interface ProbeInput {
  tools: HostTools;
  /** Scratch space for the mount probes (not on overlayfs, where possible). */
  tmpDir: string;
  euid: number;
  /** The invoking user's name, as /etc/subuid lists it. */
  user: string;
  /** Where the kernel settings and subordinate id files are read; the host's by default. */
  files?: { subuid?: string; subgid?: string; proc?: string };
  /** Probe only what this runner needs (an explicit --isolation); the rest reads "not probed". Everything when unset. */
  only?: RunnerKind;
}

interface Outcome {
  code: number | null;
  output: string;
}

function runProbe(command: string | undefined, args: readonly string[]): Promise<Outcome> {
  if (command === undefined) return Promise.resolve({ code: null, output: 'not installed' });
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: TOOL_PATH } });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, output: err.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output: output.trim() });
    });
  });
}

/** The reason a tool printed for failing: its last unindented line (mount indents its dmesg advice). */
function why(o: Outcome): string {
  const lines = o.output.split('\n').filter((l) => l.trim() !== '' && !/^\s/.test(l));
  return lines[lines.length - 1] ?? `exit code ${o.code}`;
}

async function readText(file: string): Promise<string | undefined> {
  return readFile(file, 'utf8').then(
    (t) => t.trim(),
    () => undefined,
  );
}

/** The first range /etc/subuid (or subgid) grants `user` (by name or uid). */
export function parseSubidRange(text: string | undefined, user: string, id: number): IdRange | undefined {
  for (const line of (text ?? '').split('\n')) {
    const [name, start, count] = line.trim().split(':');
    if ((name === user || name === String(id)) && start !== undefined && count !== undefined) {
      const r = { start: Number(start), count: Number(count) };
      if (Number.isSafeInteger(r.start) && Number.isSafeInteger(r.count) && r.count > 0) return r;
    }
  }
  return undefined;
}

/** What stands in the way of user namespaces here: kernel settings, seccomp, AppArmor. */
async function userNamespaceBlockers(proc: string): Promise<string[]> {
  const blockers: string[] = [];
  if ((await readText(path.join(proc, 'sys/kernel/unprivileged_userns_clone'))) === '0') blockers.push('sysctl kernel.unprivileged_userns_clone = 0');
  if ((await readText(path.join(proc, 'sys/user/max_user_namespaces'))) === '0') blockers.push('sysctl user.max_user_namespaces = 0');
  if ((await readText(path.join(proc, 'sys/kernel/apparmor_restrict_unprivileged_userns'))) === '1') {
    blockers.push('AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1)');
  }
  const status = await readText(path.join(proc, 'self/status'));
  if (/^Seccomp:\s*2$/m.test(status ?? '')) blockers.push('a seccomp filter is active (Docker\'s default profile refuses unshare without CAP_SYS_ADMIN)');
  return blockers;
}

const PROC_SCRIPT = `"$1" -t proc proc "$2" 2>/dev/null && echo mount && exit 0; "$1" --rbind /proc "$2" && echo rbind`;
// Volatile where the kernel has it, as the steps' overlays (namespace-setup.ts): else the probe's unmount syncs the whole
// filesystem while the build writes. A failed volatile mount may leave its mark in w/work, which would refuse the retry.
const OVERLAY_SCRIPT = `cd "$2" && mkdir l u w m && { "$1" -t overlay overlay -o lowerdir=l,upperdir=u,workdir=w,userxattr,volatile m 2>/dev/null || { rm -rf w/work; "$1" -t overlay overlay -o lowerdir=l,upperdir=u,workdir=w,userxattr m; }; }`;
const OVERLAY_ROOT_SCRIPT = `cd "$2" && mkdir l u w m && { "$1" -t overlay overlay -o lowerdir=l,upperdir=u,workdir=w,index=off,metacopy=off,redirect_dir=off,volatile m 2>/dev/null || { rm -rf w/work; "$1" -t overlay overlay -o lowerdir=l,upperdir=u,workdir=w,index=off,metacopy=off,redirect_dir=off m; }; }`;

/** Probe what the runners can use here. Never throws: what fails is a Check that says why. */
export async function probeHost(input: ProbeInput): Promise<HostProbe> {
  const { tools } = input;
  const proc = input.files?.proc ?? '/proc';
  const scratch = await mkdtemp(path.join(input.tmpDir, 'hoist-probe-')).catch((err: unknown) => {
    throw fsError(err, input.tmpDir, 'create a scratch directory in');
  });
  try {
    // Independent probes run at once: each is a process or two, and a build waits for all of them.
    // Each spawn costs the build's main thread a fork: an explicit --isolation probes its runner's needs only.
    const wanted = (kind: RunnerKind): boolean => input.only === undefined || input.only === kind;
    const skipped = { ok: false, detail: `not probed (--isolation ${input.only ?? ''})` };
    const [userSide, mountSide, chroot, setIds, mknod, proot, bwrap] = await Promise.all([
      wanted('userns')
        ? probeUserNamespaces(input, proc, scratch)
        : Promise.resolve({ userNamespaces: { ...skipped, blockers: [] }, subids: skipped, procInUserns: skipped, overlayInUserns: skipped }),
      wanted('chroot') ? probeMountNamespace(input, scratch) : Promise.resolve<Pick<HostProbe, 'mountNamespace' | 'overlayAsRoot'>>({ mountNamespace: skipped }),
      wanted('chroot') ? probeChroot(tools) : Promise.resolve(skipped),
      wanted('chroot') ? probeSetIds(tools) : Promise.resolve(skipped),
      wanted('chroot') ? probeMknod(tools, scratch) : Promise.resolve(skipped),
      wanted('proot') ? probeProot(tools) : Promise.resolve({ ...skipped, killOnExit: false }),
      input.only === undefined ? probeBwrap(tools) : Promise.resolve(skipped),
    ]);
    const { userNamespaces, subids, procInUserns, overlayInUserns } = userSide;
    const { mountNamespace, overlayAsRoot } = mountSide;
    return { euid: input.euid, user: input.user, userNamespaces, subids, procInUserns, overlayInUserns, ...(overlayAsRoot ? { overlayAsRoot } : {}), mountNamespace, chroot, setIds, mknod, proot, bwrap };
  } finally {
    await rm(scratch, { recursive: true, force: true }).catch(() => undefined);
  }
}

type UserSide = Pick<HostProbe, 'userNamespaces' | 'subids' | 'procInUserns' | 'overlayInUserns'>;

/** User namespaces, and what works in one: /proc, overlay, the subordinate ranges. */
async function probeUserNamespaces(input: ProbeInput, proc: string, scratch: string): Promise<UserSide> {
  const { tools } = input;
  const userns = await runProbe(tools.unshare, ['--user', '--map-root-user', '--mount', '--pid', '--fork', '--', tools.sh ?? '/bin/sh', '-c', 'exit 0']);
  const usernsOk = userns.code === 0;
  const blockers = usernsOk ? [] : await userNamespaceBlockers(proc);
  const userNamespaces = {
    ok: usernsOk,
    detail: usernsOk ? 'unshare --user --mount --pid works' : why(userns),
    blockers,
  };
  const [inside, subids] = await Promise.all([usernsOk ? probeInsideUserns(tools, scratch) : undefined, probeSubids(input, usernsOk)]);
  return {
    userNamespaces,
    subids,
    procInUserns: inside?.procInUserns ?? { ok: false, detail: 'no user namespace' },
    overlayInUserns: inside?.overlayInUserns ?? { ok: false, detail: 'no user namespace' },
  };
}

async function probeInsideUserns(tools: ProbeInput['tools'], scratch: string): Promise<Pick<HostProbe, 'procInUserns' | 'overlayInUserns'>> {
  const nsSh = ['--user', '--map-root-user', '--mount', '--propagation=private', '--pid', '--fork', '--', tools.sh ?? '/bin/sh', '-c'];
  const ovl = await mkdtemp(path.join(scratch, 'overlay-'));
  const [p, o] = await Promise.all([
    runProbe(tools.unshare, [...nsSh, PROC_SCRIPT, 'probe', tools.mount ?? 'mount', scratch]),
    runProbe(tools.unshare, [...nsSh, OVERLAY_SCRIPT, 'probe', tools.mount ?? 'mount', ovl]),
  ]);
  await openOverlayWorkDir(path.join(ovl, 'w'));
  const how = p.output.split('\n').pop();
  const procInUserns: HostProbe['procInUserns'] =
    p.code === 0 && (how === 'mount' || how === 'rbind')
      ? { ok: true, how, detail: how === 'mount' ? 'a fresh proc mount works' : 'a fresh proc mount is refused; the host\'s /proc is bound (mount --rbind)' }
      : { ok: false, detail: why(p) };
  const overlayInUserns: Check = o.code === 0 ? { ok: true, detail: 'overlay with userxattr mounts in a user namespace' } : { ok: false, detail: why(o) };
  return { procInUserns, overlayInUserns };
}

async function probeSubids(input: ProbeInput, usernsOk: boolean): Promise<HostProbe['subids']> {
  const { tools } = input;
  const subidText = await readText(input.files?.subuid ?? '/etc/subuid');
  const subgidText = await readText(input.files?.subgid ?? '/etc/subgid');
  const uidRange = parseSubidRange(subidText, input.user, input.euid);
  const gidRange = parseSubidRange(subgidText, input.user, input.euid);
  if (uidRange === undefined || gidRange === undefined) return { ok: false, detail: `/etc/subuid and /etc/subgid grant ${input.user} no range` };
  if (tools.newuidmap === undefined || tools.newgidmap === undefined) return { ok: false, uid: uidRange, gid: gidRange, detail: 'newuidmap/newgidmap are not installed (package uidmap)' };
  if (!usernsOk) return { ok: false, uid: uidRange, gid: gidRange, detail: 'no user namespace to map them into' };
  const m = await runProbe(tools.unshare, [
    '--user', '--map-root-user',
    `--map-users=${uidRange.start},1,${uidRange.count}`, `--map-groups=${gidRange.start},1,${gidRange.count}`,
    '--', tools.sh ?? '/bin/sh', '-c', 'exit 0',
  ]);
  return m.code === 0
    ? { ok: true, uid: uidRange, gid: gidRange, detail: `${uidRange.count} uids from ${uidRange.start} and ${gidRange.count} gids from ${gidRange.start}, mapped by newuidmap` }
    : { ok: false, uid: uidRange, gid: gidRange, detail: why(m) };
}

/** A mount namespace without a user namespace (root), and overlay in it. */
async function probeMountNamespace(input: ProbeInput, scratch: string): Promise<Pick<HostProbe, 'mountNamespace' | 'overlayAsRoot'>> {
  const { tools } = input;
  const mns = await runProbe(tools.unshare, ['--mount', '--propagation=private', '--pid', '--fork', '--', tools.sh ?? '/bin/sh', '-c', PROC_SCRIPT, 'probe', tools.mount ?? 'mount', scratch]);
  const mountNamespace = mns.code === 0 ? { ok: true, detail: `unshare --mount --pid works (/proc: ${mns.output.split('\n').pop()})` } : { ok: false, detail: why(mns) };
  if (input.euid !== 0 || !mountNamespace.ok) return { mountNamespace };
  const ovl = await mkdtemp(path.join(scratch, 'overlay-root-'));
  const o = await runProbe(tools.unshare, ['--mount', '--propagation=private', '--', tools.sh ?? '/bin/sh', '-c', OVERLAY_ROOT_SCRIPT, 'probe', tools.mount ?? 'mount', ovl]);
  await openOverlayWorkDir(path.join(ovl, 'w'));
  return { mountNamespace, overlayAsRoot: o.code === 0 ? { ok: true, detail: 'overlay mounts in a mount namespace as root' } : { ok: false, detail: why(o) } };
}

async function probeChroot(tools: ProbeInput['tools']): Promise<Check> {
  const ch = await runProbe(tools.nsenter, ['--root=/', '--', tools.sh ?? '/bin/sh', '-c', 'exit 0']);
  return ch.code === 0 ? { ok: true, detail: 'chroot works (CAP_SYS_CHROOT)' } : { ok: false, detail: why(ch) };
}

async function probeSetIds(tools: ProbeInput['tools']): Promise<Check> {
  const ids = await runProbe(tools.setpriv, ['--reuid=65534', '--regid=65534', '--clear-groups', '--', tools.sh ?? '/bin/sh', '-c', 'exit 0']);
  return ids.code === 0 ? { ok: true, detail: 'switching uid and gid works (CAP_SETUID, CAP_SETGID)' } : { ok: false, detail: why(ids) };
}

async function probeMknod(tools: ProbeInput['tools'], scratch: string): Promise<Check> {
  const mk = await runProbe(tools.mknod, ['-m', '666', path.join(scratch, 'null'), 'c', '1', '3']);
  return mk.code === 0 ? { ok: true, detail: 'device nodes can be made (CAP_MKNOD)' } : { ok: false, detail: why(mk) };
}

async function probeProot(tools: ProbeInput['tools']): Promise<HostProbe['proot']> {
  const pv = await runProbe(tools.proot, ['--version']);
  const version = /\b(\d+\.\d+(?:\.\d+)?)\b/.exec(pv.output)?.[1];
  if (tools.proot === undefined || pv.code !== 0) return { ok: false, detail: tools.proot === undefined ? 'not installed (package proot)' : why(pv), killOnExit: false };
  const [help, run] = await Promise.all([runProbe(tools.proot, ['--help']), runProbe(tools.proot, ['-0', tools.sh ?? '/bin/sh', '-c', 'test "$(id -u)" = 0'])]);
  return {
    ok: run.code === 0,
    detail: run.code === 0 ? prootDetail(version, pv.output) : why(run),
    killOnExit: help.output.includes('--kill-on-exit'),
    ...(version !== undefined ? { version } : {}),
  };
}

/**
 * What `hoist doctor` says of a working proot, from its `--version` text.
 * Debian's proot 5.1 is built without the seccomp accelerator ("built-in
 * accelerators: ..., seccomp_filter = no"): it stops the step at every
 * system call, and a rootless gcc and make build took 28.7 s under it and
 * 16.1 s under proot 5.4.0 built with it (README).
 */
export function prootDetail(version: string | undefined, versionText: string): string {
  const said = `proot ${version ?? '(unknown version)'} runs processes under ptrace`;
  if (!/\bseccomp_filter = no\b/.test(versionText)) return said;
  return `${said}, stopping them at every system call (built without its seccomp accelerator; one built with it, such as 5.4 from its source, took 16 s against 29 s for one apt and gcc build: README)`;
}

async function probeBwrap(tools: ProbeInput['tools']): Promise<HostProbe['bwrap']> {
  const bv = await runProbe(tools.bwrap, ['--version']);
  const bwrapVersion = /\b(\d+\.\d+(?:\.\d+)?)\b/.exec(bv.output)?.[1];
  return {
    ok: bv.code === 0,
    detail: bv.code === 0 ? `bubblewrap ${bwrapVersion ?? ''} is installed (not needed: the runners use unshare)`.replace('  ', ' ') : 'not installed (not needed)',
    ...(bwrapVersion !== undefined ? { version: bwrapVersion } : {}),
  };
}
