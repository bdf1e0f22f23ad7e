import { HoistError } from '../errors.js';
import { ChrootRunner } from './chroot-runner.js';
import type { HostProbe } from './probe.js';
import { RUNNER_KINDS, type RunNeeds, type Runner, type RunnerKind } from './process-spec.js';
import { ProotRunner } from './proot-runner.js';
import { prootOlderThan, syscallShim } from './syscall-shim.js';
import type { RunnerOptions } from './step-env.js';
import { UsernsRunner } from './userns-runner.js';

export type Isolation = 'auto' | RunnerKind;

/** Whether one runner can run the steps here, and why (not). */
export interface Assessment {
  kind: RunnerKind;
  ok: boolean;
  why: string;
  /** Limits the user should hear about once, such as no /proc. */
  notes: string[];
}

function missing(names: readonly (keyof RunnerOptions['tools'])[], tools: RunnerOptions['tools']): string | undefined {
  const gone = names.filter((n) => tools[n] === undefined);
  return gone.length > 0 ? `${gone.join(', ')} ${gone.length > 1 ? 'are' : 'is'} not installed` : undefined;
}

function assessUserns(probe: HostProbe, needs: RunNeeds, tools: RunnerOptions['tools']): Assessment {
  const no = (why: string): Assessment => ({ kind: 'userns', ok: false, why, notes: [] });
  // cp: the step's /dev is filled from a skeleton (namespace-mounts.ts).
  const absent = missing(['unshare', 'nsenter', 'setpriv', 'mount', 'env', 'touch', 'sh', 'cp'], tools);
  if (absent !== undefined) return no(absent);
  const u = probe.userNamespaces;
  if (!u.ok) return no(`user namespaces are blocked (${u.detail}${u.blockers.length > 0 ? `; ${u.blockers.join('; ')}` : ''})`);
  if (!probe.procInUserns.ok) return no(`/proc can be neither mounted nor bound in a user namespace (${probe.procInUserns.detail})`);
  if (needs.switchIds && !probe.subids.ok) {
    return no(`a step runs as a non-root USER, and only root can be mapped: ${probe.subids.detail}`);
  }
  const ids = probe.subids.ok ? `root and ${probe.subids.uid?.count ?? 0} subordinate ids mapped` : 'root mapped to the invoking user';
  return { kind: 'userns', ok: true, why: `user namespaces work (${ids}; /proc ${probe.procInUserns.how === 'mount' ? 'mounted' : 'bound from the host'})`, notes: [] };
}

function assessChroot(probe: HostProbe, needs: RunNeeds, tools: RunnerOptions['tools']): Assessment {
  const no = (why: string): Assessment => ({ kind: 'chroot', ok: false, why, notes: [] });
  const absent = missing(['nsenter', 'setpriv', 'env', 'touch', 'sh'], tools);
  if (absent !== undefined) return no(absent);
  if (probe.euid !== 0) return no('hoist is not running as root');
  if (!probe.chroot.ok) return no(`chroot is not permitted (${probe.chroot.detail})`);
  if (!probe.setIds.ok) return no(`switching uid and gid is not permitted (${probe.setIds.detail})`);
  if (probe.mountNamespace.ok && tools.mount !== undefined && tools.cp !== undefined) return { kind: 'chroot', ok: true, why: 'root, with a mount namespace', notes: [] };
  if (needs.networkNone) return no('RUN --network=none needs a network namespace, and none can be made here');
  const notes = ['no mount namespace here: steps run without /proc'];
  if (!probe.mknod.ok) notes.push('device nodes cannot be made here: steps run without /dev/null');
  return { kind: 'chroot', ok: true, why: `root without a mount namespace (${probe.mountNamespace.detail}): a plain chroot`, notes };
}

function assessProot(probe: HostProbe, needs: RunNeeds): Assessment {
  const no = (why: string): Assessment => ({ kind: 'proot', ok: false, why, notes: [] });
  if (!probe.proot.ok) return no(`proot does not work here (${probe.proot.detail})`);
  if (needs.networkNone) return no('RUN --network=none needs a network namespace, and proot makes none');
  const notes = needs.switchIds ? ['proot fakes a USER\'s uid and gid but not its supplementary groups'] : [];
  // Where hoist has a syscall shim for this machine, the step goes through it: it sees the image's files, and its threads work.
  if (syscallShim() === undefined) {
    const untranslated = untranslatedSyscalls(probe.proot.version);
    if (untranslated !== undefined) notes.push(untranslated);
    notes.push(UNFOLLOWED_CALLS);
  }
  return { kind: 'proot', ok: true, why: `proot ${probe.proot.version ?? ''} works`.replace('  ', ' '), notes };
}

/**
 * proot translates the paths of the system calls it knows: statx from 5.3,
 * faccessat2 from 5.4 (Debian 12 ships 5.1). glibc 2.33 and later (Debian
 * 12, Ubuntu 22.04) calls faccessat2 for access checks with flags, and
 * coreutils' ls and stat call statx: untranslated, they look at this
 * machine's paths instead of the image's. apt checks that _apt may read
 * its keyrings so, and in a container without /etc/apt `apt-get update`
 * then fails. Where hoist has a syscall shim for the machine
 * (syscall-shim.ts) the steps run through it and this is not said.
 */
export function untranslatedSyscalls(version: string | undefined): string | undefined {
  if (!prootOlderThan(version, 5, 4)) return undefined;
  const missing = prootOlderThan(version, 5, 3) ? 'statx and faccessat2' : 'faccessat2';
  return (
    `proot ${version ?? '(unknown version)'} does not translate the ${missing} system calls (proot 5.4 does): in images with glibc 2.33 or later ` +
    "(Debian 12, Ubuntu 22.04) access checks with flags and coreutils' ls and stat see this machine's files instead of the image's, " +
    "and apt-get update fails with 'The key(s) in the keyring ... are ignored as the file is not readable by user _apt' where this machine has no /etc/apt; install proot 5.4 or later"
  );
}

/**
 * What no proot release (5.4.0 is the last) follows, whatever its version:
 * said where hoist has no syscall shim for the machine (syscall-shim.ts).
 */
export const UNFOLLOWED_CALLS =
  'proot (every release up to 5.4.0) does not follow threads made with clone3 nor file operations queued through io_uring: in images with glibc 2.34 or later ' +
  "(Debian 12, Ubuntu 22.04) threaded programs can fail (npm ci: 'EFAULT: bad address in system call argument') and io_uring reads this machine's files; " +
  "hoist's syscall shim, which makes both fail with ENOSYS so that glibc and libuv use what proot follows, exists for x86-64 only";

/** Every runner in `auto`'s order of preference, each with whether it can run steps that need `needs` here. */
export function assessRunners(probe: HostProbe, needs: RunNeeds, tools: RunnerOptions['tools']): Assessment[] {
  return RUNNER_KINDS.map((kind) => (kind === 'userns' ? assessUserns(probe, needs, tools) : kind === 'chroot' ? assessChroot(probe, needs, tools) : assessProot(probe, needs)));
}

/**
 * `all` (as assessRunners gives them) in the order `auto` tries them. Where
 * hoist is root, has no subordinate range and can make a mount namespace,
 * chroot goes before userns: a user namespace that maps only root fails
 * every step that switches ids itself (apt drops to its _apt user to
 * download, "setgroups 0 failed - setgroups (1: Operation not permitted)";
 * `chown` to another uid), while root in a mount namespace has every id.
 */
export function autoOrder(all: readonly Assessment[], probe: HostProbe): Assessment[] {
  const chroot = all.find((a) => a.kind === 'chroot');
  const userns = all.find((a) => a.kind === 'userns');
  if (probe.euid !== 0 || probe.subids.ok || !probe.mountNamespace.ok || chroot?.ok !== true || userns?.ok !== true) return [...all];
  const preferred = { ...chroot, why: `${chroot.why} (not userns: it would map only root here, and steps that switch ids, as apt does, fail there)` };
  return [preferred, ...all.filter((a) => a !== chroot)];
}

export interface Selection {
  runner: Runner;
  /** What was picked and why, for the build output: "userns: user namespaces work (...)". */
  reason: string;
  notes: string[];
}

/**
 * The runner for `isolation`: the named one if it can work here, or for
 * `auto` the first that can. Throws a HoistError saying why none (or not the
 * named one) works.
 */
export function selectRunner(probe: HostProbe, needs: RunNeeds, isolation: Isolation, opts: RunnerOptions): Selection {
  const all = assessRunners(probe, needs, opts.tools);
  const candidates = isolation === 'auto' ? autoOrder(all, probe) : all.filter((a) => a.kind === isolation);
  const chosen = candidates.find((a) => a.ok);
  if (chosen === undefined) {
    const reasons = candidates.map((a) => `${a.kind}: ${a.why}`).join('; ');
    throw new HoistError(
      'RUN_NO_RUNNER',
      isolation === 'auto' ? `no runner can run RUN steps here (${reasons})` : `--isolation ${isolation} cannot run RUN steps here (${reasons})`,
      {
        hint:
          isolation === 'userns' && needs.switchIds
            ? 'grant the user a subordinate id range in /etc/subuid and /etc/subgid and install uidmap, or use --isolation proot (hoist doctor shows what works here)'
            : 'install proot (it works almost everywhere), or run `hoist doctor` to see what works here and why the rest does not',
      },
    );
  }
  const skipped = isolation === 'auto' ? candidates.slice(0, candidates.indexOf(chosen)).map((a) => ` (not ${a.kind}: ${a.why})`).join('') : '';
  return { runner: createRunner(chosen.kind, probe, opts), reason: `${chosen.kind}: ${chosen.why}${skipped}`, notes: chosen.notes };
}

export function createRunner(kind: RunnerKind, probe: HostProbe, opts: RunnerOptions): Runner {
  switch (kind) {
    case 'userns':
      return new UsernsRunner({ ...opts, ...(probe.subids.ok && probe.subids.uid && probe.subids.gid ? { subids: { uid: probe.subids.uid, gid: probe.subids.gid } } : {}) });
    case 'chroot':
      return new ChrootRunner({ ...opts, mountNamespace: probe.mountNamespace.ok && opts.tools.mount !== undefined });
    case 'proot':
      return new ProotRunner({ ...opts, killOnExit: probe.proot.killOnExit, ...(probe.proot.version !== undefined ? { version: probe.proot.version } : {}) });
  }
}
