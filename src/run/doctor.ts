import type { HostTools } from './host-tools.js';
import type { Check, HostProbe } from './probe.js';
import type { RunnerKind } from './process-spec.js';
import { assessRunners, autoOrder, type Assessment } from './select-runner.js';
import { selectSnapshot, type SnapshotChoice } from './select-snapshot.js';

export interface DoctorCheck extends Check {
  name: string;
}

export interface AutoPick {
  kind: RunnerKind;
  reason: string;
  notes: string[];
  /** What `--snapshot auto` takes with this runner. */
  snapshot: SnapshotChoice;
}

/** What `hoist doctor` reports: every probe, every runner, and what `--isolation auto` picks. */
export interface DoctorReport {
  user: string;
  euid: number;
  checks: DoctorCheck[];
  runners: Assessment[];
  /** What auto picks for steps run as root, and for steps under a non-root USER; null where nothing works. */
  auto: { root: AutoPick | null; nonRootUser: AutoPick | null };
}

function pick(all: Assessment[], probe: HostProbe, tools: HostTools): AutoPick | null {
  const chosen = all.find((a) => a.ok);
  if (chosen === undefined) return null;
  const skipped = all.slice(0, all.indexOf(chosen)).map((a) => ` (not ${a.kind}: ${a.why})`).join('');
  const snapshot = selectSnapshot('auto', chosen.kind, probe, probe.mountNamespace.ok && tools.mount !== undefined, '');
  return { kind: chosen.kind, reason: `${chosen.why}${skipped}`, notes: chosen.notes, snapshot };
}

export function doctorReport(probe: HostProbe, tools: HostTools): DoctorReport {
  const u = probe.userNamespaces;
  const checks: DoctorCheck[] = [
    { name: 'user namespaces', ok: u.ok, detail: u.ok ? u.detail : [u.detail, ...u.blockers].join('; ') },
    { name: 'subordinate ids (newuidmap)', ...probe.subids },
    { name: '/proc in a user namespace', ...probe.procInUserns },
    { name: 'overlay in a user namespace', ...probe.overlayInUserns },
    { name: 'mount namespace as root', ...probe.mountNamespace },
    ...(probe.overlayAsRoot ? [{ name: 'overlay as root', ...probe.overlayAsRoot }] : []),
    { name: 'chroot', ...probe.chroot },
    { name: 'uid/gid switching', ...probe.setIds },
    { name: 'device nodes (mknod)', ...probe.mknod },
    { name: 'proot', ...probe.proot },
    { name: 'bubblewrap', ...probe.bwrap },
  ].map((c) => ({ name: c.name, ok: c.ok, detail: c.detail }));
  return {
    user: probe.user,
    euid: probe.euid,
    checks,
    runners: assessRunners(probe, {}, tools),
    auto: {
      root: pick(autoOrder(assessRunners(probe, {}, tools), probe), probe, tools),
      nonRootUser: pick(autoOrder(assessRunners(probe, { switchIds: true }, tools), probe), probe, tools),
    },
  };
}
