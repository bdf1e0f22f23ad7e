import { describe, expect, it } from 'vitest';
import { HoistError } from '../../../src/errors.js';
import { doctorReport } from '../../../src/run/doctor.js';
import { parseSubidRange, type HostProbe } from '../../../src/run/probe.js';
import { assessRunners, selectRunner, UNFOLLOWED_CALLS, untranslatedSyscalls } from '../../../src/run/select-runner.js';
import { syscallShim } from '../../../src/run/syscall-shim.js';
import type { HostTools } from '../../../src/run/host-tools.js';

const TOOLS: HostTools = {
  sh: '/bin/sh', env: '/usr/bin/env', unshare: '/usr/bin/unshare', nsenter: '/usr/bin/nsenter', setpriv: '/usr/bin/setpriv',
  mount: '/usr/bin/mount', touch: '/usr/bin/touch', cp: '/usr/bin/cp', mknod: '/usr/bin/mknod', newuidmap: '/usr/bin/newuidmap', newgidmap: '/usr/bin/newgidmap', proot: '/usr/bin/proot',
};
const yes = { ok: true, detail: 'works' };
const no = (detail: string): { ok: false; detail: string } => ({ ok: false, detail });

/** A host where everything works (root on a VM with a subuid range); each test takes things away. */
function probe(over: Partial<HostProbe> = {}): HostProbe {
  return {
    euid: 0, user: 'root',
    userNamespaces: { ...yes, blockers: [] },
    subids: { ...yes, uid: { start: 100000, count: 65536 }, gid: { start: 100000, count: 65536 } },
    procInUserns: { ...yes, how: 'mount' }, overlayInUserns: yes, mountNamespace: yes, chroot: yes, setIds: yes, mknod: yes,
    proot: { ...yes, version: '5.1.0', killOnExit: false }, bwrap: no('not installed'),
    ...over,
  };
}
const opts = { tools: TOOLS, tmpDir: '/tmp' };
const blocked = { userNamespaces: { ...no('unshare: unshare failed: Operation not permitted'), blockers: ['a seccomp filter is active'] } };

describe('selectRunner (auto)', () => {
  it('prefers userns where it works', () => {
    expect(selectRunner(probe(), { switchIds: true }, 'auto', opts).runner.kind).toBe('userns');
  });

  it('picks chroot as root when user namespaces are blocked (Docker default seccomp), and says there is no /proc', () => {
    const sel = selectRunner(probe({ ...blocked, mountNamespace: no('unshare: unshare failed: Operation not permitted') }), {}, 'auto', opts);
    expect(sel.runner.kind).toBe('chroot');
    expect(sel.reason).toContain('not userns: user namespaces are blocked (unshare: unshare failed: Operation not permitted; a seccomp filter is active)');
    expect(sel.notes).toEqual(['no mount namespace here: steps run without /proc']);
  });

  it('picks proot in a restricted pod (non-root, no capabilities, seccomp)', () => {
    const sel = selectRunner(probe({ ...blocked, euid: 1000, chroot: no('EPERM'), setIds: no('EPERM'), mknod: no('EPERM'), mountNamespace: no('EPERM') }), { switchIds: true }, 'auto', opts);
    expect(sel.runner.kind).toBe('proot');
    expect(sel.reason).toContain('not chroot: hoist is not running as root');
    // What proot 5.1 does not follow is handled by the syscall shim where hoist has one (x86-64), and said elsewhere.
    const unshimmed = syscallShim() === undefined;
    expect(sel.notes.includes(UNFOLLOWED_CALLS)).toBe(unshimmed);
    expect(sel.notes.some((n) => n.startsWith('proot 5.1.0 does not translate the statx and faccessat2'))).toBe(unshimmed);
  });

  it('leaves userns for a non-root USER when only root can be mapped', () => {
    const p = probe({ subids: no('/etc/subuid and /etc/subgid grant root no range') });
    expect(selectRunner(p, { switchIds: true }, 'auto', opts).runner.kind).toBe('chroot');
    expect(selectRunner({ ...p, euid: 1000 }, { switchIds: true }, 'auto', opts).runner.kind).toBe('proot');
    expect(selectRunner({ ...p, euid: 1000 }, {}, 'auto', opts).runner.kind).toBe('userns');
  });

  it('prefers chroot with a mount namespace to a userns that maps only root, as root (apt switches to _apt)', () => {
    const p = probe({ subids: no('/etc/subuid and /etc/subgid grant root no range') });
    const sel = selectRunner(p, {}, 'auto', opts);
    expect(sel.runner.kind).toBe('chroot');
    expect(sel.reason).toContain('not userns: it would map only root here');
    // Without a mount namespace chroot has no /proc: userns stays first.
    expect(selectRunner({ ...p, mountNamespace: no('EPERM') }, {}, 'auto', opts).runner.kind).toBe('userns');
    // With a subordinate range userns has every id.
    expect(selectRunner(probe(), {}, 'auto', opts).runner.kind).toBe('userns');
    // Asked for by name, userns still runs root steps.
    expect(selectRunner(p, {}, 'userns', opts).runner.kind).toBe('userns');
  });

  it('does not pick a runner without a network namespace for --network=none', () => {
    const p = probe({ ...blocked, mountNamespace: no('EPERM') });
    const err = (() => {
      try {
        selectRunner(p, { networkNone: true }, 'auto', opts);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(HoistError);
    expect((err as HoistError).code).toBe('RUN_NO_RUNNER');
    expect((err as HoistError).message).toContain('proot: RUN --network=none needs a network namespace');
  });

  it('fails an explicit --isolation userns for a non-root USER with a hint about subuid ranges', () => {
    const p = probe({ subids: no('no range') });
    expect(() => selectRunner(p, { switchIds: true }, 'userns', opts)).toThrow(/--isolation userns cannot run RUN steps here/);
    try {
      selectRunner(p, { switchIds: true }, 'userns', opts);
    } catch (e) {
      expect((e as HoistError).hint).toContain('/etc/subuid');
    }
  });

  it('says which tool is missing', () => {
    const [userns] = assessRunners(probe(), {}, { ...TOOLS, nsenter: undefined, setpriv: undefined });
    expect(userns).toMatchObject({ ok: false, why: 'nsenter, setpriv are not installed' });
  });

  it('needs cp for a mount namespace (the step\'s /dev is filled from a skeleton): without it userns is out and chroot goes plain', () => {
    const [userns, chroot] = assessRunners(probe(), {}, { ...TOOLS, cp: undefined });
    expect(userns).toMatchObject({ ok: false, why: 'cp is not installed' });
    expect(chroot).toMatchObject({ ok: true });
    expect(chroot?.why).toContain('a plain chroot');
  });
});

describe('parseSubidRange', () => {
  const text = 'alice:100000:65536\n1001:200000:1000\nbob:300000:0\n';
  it('finds a range by name or by uid, and ignores empty ones', () => {
    expect(parseSubidRange(text, 'alice', 1000)).toEqual({ start: 100000, count: 65536 });
    expect(parseSubidRange(text, 'carol', 1001)).toEqual({ start: 200000, count: 1000 });
    expect(parseSubidRange(text, 'bob', 1002)).toBeUndefined();
    expect(parseSubidRange(undefined, 'alice', 1000)).toBeUndefined();
  });
});

describe('doctorReport', () => {
  it('lists every check and what auto picks for root and non-root steps', () => {
    const r = doctorReport(probe({ subids: no('no range') }), TOOLS);
    expect(r.checks.map((c) => c.name)).toEqual([
      'user namespaces', 'subordinate ids (newuidmap)', '/proc in a user namespace', 'overlay in a user namespace', 'mount namespace as root',
      'chroot', 'uid/gid switching', 'device nodes (mknod)', 'proot', 'bubblewrap',
    ]);
    expect(r.auto.root?.kind).toBe('chroot');
    expect(r.auto.nonRootUser?.kind).toBe('chroot');
    expect(doctorReport(probe(), TOOLS).auto.root?.kind).toBe('userns');
    expect(r.runners.map((a) => [a.kind, a.ok])).toEqual([['userns', true], ['chroot', true], ['proot', true]]);
  });
});

describe('untranslatedSyscalls: what a proot before 5.4 leaves to the host', () => {
  it('names statx and faccessat2 before 5.3, faccessat2 in 5.3, nothing from 5.4', () => {
    expect(untranslatedSyscalls('5.1.0')).toMatch(/^proot 5\.1\.0 does not translate the statx and faccessat2 system calls .*install proot 5\.4 or later$/);
    expect(untranslatedSyscalls('5.3.1')).toMatch(/^proot 5\.3\.1 does not translate the faccessat2 system calls/);
    expect(untranslatedSyscalls(undefined)).toMatch(/^proot \(unknown version\) does not translate/);
    for (const v of ['5.4.0', '5.10', '6.0.0']) expect(untranslatedSyscalls(v)).toBeUndefined();
  });
});
