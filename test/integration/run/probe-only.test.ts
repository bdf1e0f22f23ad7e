/**
 * An explicit --isolation probes what that runner needs and nothing else
 * (each probe is a process the build forks); `auto` and doctor probe all.
 */
import { userInfo, tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { findHostTools, probeHost, type HostProbe } from '../../../src/run/index.js';

const tools = findHostTools(process.env.PATH);
const euid = process.geteuid?.() ?? 0;
const base = { tools, tmpDir: tmpdir(), euid, user: userInfo().username };
const notProbed = (c: { detail: string }): boolean => c.detail.startsWith('not probed');

describe('probeHost with `only`', () => {
  it('probes everything without it, and only the named runner\'s needs with it', async () => {
    const all = await probeHost(base);
    const checks = (p: HostProbe) => [p.userNamespaces, p.subids, p.procInUserns, p.overlayInUserns, p.mountNamespace, p.chroot, p.setIds, p.mknod, p.proot, p.bwrap];
    expect(checks(all).filter(notProbed)).toEqual([]);

    const proot = await probeHost({ ...base, only: 'proot' });
    expect(notProbed(proot.proot)).toBe(false);
    expect(proot.proot.ok).toBe(all.proot.ok);
    for (const c of [proot.userNamespaces, proot.subids, proot.procInUserns, proot.overlayInUserns, proot.mountNamespace, proot.chroot, proot.setIds, proot.mknod, proot.bwrap]) {
      expect(notProbed(c)).toBe(true);
      expect(c.ok).toBe(false);
    }

    const chroot = await probeHost({ ...base, only: 'chroot' });
    expect([chroot.mountNamespace, chroot.chroot, chroot.setIds, chroot.mknod].map((c) => c.ok)).toEqual([all.mountNamespace.ok, all.chroot.ok, all.setIds.ok, all.mknod.ok]);
    expect(chroot.overlayAsRoot?.ok).toBe(all.overlayAsRoot?.ok);
    expect([chroot.userNamespaces, chroot.proot].every(notProbed)).toBe(true);

    const userns = await probeHost({ ...base, only: 'userns' });
    expect([userns.userNamespaces.ok, userns.procInUserns.ok, userns.overlayInUserns.ok, userns.subids.ok]).toEqual([all.userNamespaces.ok, all.procInUserns.ok, all.overlayInUserns.ok, all.subids.ok]);
    expect([userns.mountNamespace, userns.chroot, userns.proot].every(notProbed)).toBe(true);
  }, 120_000);
});
