import { describe, expect, it } from 'vitest';
import { HoistError } from '../../../src/errors.js';
import { selectSnapshot } from '../../../src/run/select-snapshot.js';
import { ChrootRunner, ProotRunner, type ProcessSpec } from '../../../src/run/index.js';
import { overlayOp } from '../../../src/run/namespace-setup.js';
import type { HostProbe } from '../../../src/run/probe.js';

const yes = { ok: true, detail: 'works' };
const no = (detail: string): { ok: false; detail: string } => ({ ok: false, detail });

/** Root on a VM: everything works; each test takes things away. */
function probe(over: Partial<HostProbe> = {}): HostProbe {
  return {
    euid: 0, user: 'root',
    userNamespaces: { ...yes, blockers: [] },
    subids: { ...yes, uid: { start: 100000, count: 65536 }, gid: { start: 100000, count: 65536 } },
    procInUserns: { ...yes, how: 'mount' }, overlayInUserns: yes, overlayAsRoot: yes, mountNamespace: yes, chroot: yes, setIds: yes, mknod: yes,
    proot: { ...yes, version: '5.1.0', killOnExit: false }, bwrap: no('not installed'),
    ...over,
  };
}

function refusal(fn: () => unknown): HoistError {
  try {
    fn();
  } catch (err) {
    if (err instanceof HoistError) return err;
    throw err;
  }
  throw new Error('expected a HoistError');
}

describe('selectSnapshot', () => {
  it('takes overlay under auto where it mounts with the runner', () => {
    expect(selectSnapshot('auto', 'userns', probe(), true, '/tmp/b')).toEqual({ kind: 'overlay', reason: 'overlay: overlayfs mounts in a user namespace here' });
    expect(selectSnapshot('auto', 'chroot', probe(), true, '/tmp/b')).toEqual({ kind: 'overlay', reason: 'overlay: overlayfs mounts as root here' });
  });

  it('falls back to walk under auto, saying why', () => {
    expect(selectSnapshot('auto', 'proot', probe(), true, '/tmp/b')).toEqual({ kind: 'walk', reason: 'walk (not overlay: the proot runner cannot mount an overlay)' });
    expect(selectSnapshot('auto', 'chroot', probe(), false, '/tmp/b').reason).toBe('walk (not overlay: the chroot runner has no mount namespace here)');
    expect(selectSnapshot('auto', 'userns', probe({ overlayInUserns: no('mount: wrong fs type') }), true, '/tmp/b').reason).toBe(
      'walk (not overlay: overlayfs does not mount in a user namespace here (mount: wrong fs type))',
    );
    expect(selectSnapshot('auto', 'userns', probe(), true, '/tmp/a,b').kind).toBe('walk');
    // Without root, owners on disk are translated (the runner's id map) and recorded (fakeroot): only the walk reads them.
    expect(selectSnapshot('auto', 'userns', probe({ euid: 1000 }), true, '/tmp/b').kind).toBe('walk');
    expect(selectSnapshot('auto', 'userns', probe({ euid: 1000, subids: no('no range') }), true, '/tmp/b').reason).toBe(
      'walk (not overlay: without root, owners are translated and recorded in ways only the walk snapshotter reads)',
    );
  });

  it('keeps walk when asked', () => {
    expect(selectSnapshot('walk', 'userns', probe(), true, '/tmp/b').kind).toBe('walk');
  });

  it('refuses an explicit overlay that cannot mount, naming the runner and the reason', () => {
    const err = refusal(() => selectSnapshot('overlay', 'proot', probe(), true, '/tmp/b'));
    expect(err.code).toBe('SNAPSHOT_OVERLAY_UNAVAILABLE');
    expect(err.message).toBe('--snapshot overlay cannot work with the proot runner here: the proot runner cannot mount an overlay');
    expect(err.hint).toContain('--snapshot walk');
    expect(refusal(() => selectSnapshot('overlay', 'chroot', probe({ overlayAsRoot: no('mount: permission denied') }), true, '/tmp/b')).message).toContain('mount: permission denied');
    expect(refusal(() => selectSnapshot('overlay', 'userns', probe({ euid: 1000 }), true, '/tmp/b')).message).toContain('without root');
  });
});

describe('an overlay in a ProcessSpec', () => {
  const spec: ProcessSpec = {
    argv: ['/bin/true'], env: {}, cwd: '/', uid: 0, gid: 0, groups: [], rootfs: '/nonexistent/rootfs', mounts: [], network: 'default',
    overlay: { upper: '/nonexistent/upper', work: '/nonexistent/work' },
  };
  const io = { stdout: () => {}, stderr: () => {} };

  it('is refused by runners that cannot mount, before anything runs', async () => {
    const tools = { sh: '/bin/sh', touch: '/usr/bin/touch', proot: '/usr/bin/proot' };
    await expect(new ProotRunner({ tools, tmpDir: '/nonexistent', killOnExit: false }).run(spec, io)).rejects.toMatchObject({ code: 'RUN_OVERLAY_UNSUPPORTED' });
    await expect(new ChrootRunner({ tools, tmpDir: '/nonexistent', mountNamespace: false }).run(spec, io)).rejects.toMatchObject({ code: 'RUN_OVERLAY_UNSUPPORTED' });
  });

  it('becomes a mount over the rootfs itself: userxattr in a user namespace, no redirects as root', () => {
    expect(overlayOp('/r', { upper: '/o/u', work: '/o/w' }, true)).toEqual({
      op: 'overlay', target: '/r', options: 'lowerdir=/r,upperdir=/o/u,workdir=/o/w,index=off,metacopy=off,userxattr', workdir: '/o/w',
    });
    expect(overlayOp('/r', { upper: '/o/u', work: '/o/w' }, false).op === 'overlay' && overlayOp('/r', { upper: '/o/u', work: '/o/w' }, false)).toMatchObject({
      options: 'lowerdir=/r,upperdir=/o/u,workdir=/o/w,index=off,metacopy=off,redirect_dir=off',
    });
    expect(() => overlayOp('/a,b', { upper: '/o/u', work: '/o/w' }, true)).toThrow(expect.objectContaining({ code: 'RUN_OVERLAY_PATH' }));
  });
});
