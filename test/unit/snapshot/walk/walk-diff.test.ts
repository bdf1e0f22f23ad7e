import { chmod, chown, link, mkdir, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HoistError } from '../../../../src/errors.js';
import { createTarStream } from '../../../../snapshot/layer-tar.js';
import { readTar } from '../../../../src/tar/index.js';
import { captureState, diffState, WalkSnapshotter } from '../../../../snapshot/walk/index.js';
import { withTempDir } from '../fixtures.js';
import { layerOf, sh, stepLayer, summary } from './walk-layer.js';

const T = new Date(1_600_000_000_000);

/** A small rootfs: unchanged parents with unusual metadata, hard links, symlinks, and the runner's mount points. */
async function makeBase(root: string): Promise<void> {
  for (const d of ['etc', 'root', 'usr/bin', 'usr/share/doc/pkg', 'var/lib/d', 'proc', 'dev', 'sys']) await mkdir(join(root, d), { recursive: true });
  await writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  await writeFile(join(root, 'etc/hosts'), '127.0.0.1 localhost\n');
  await writeFile(join(root, 'etc/resolv.conf'), 'nameserver 10.0.0.1\n');
  await writeFile(join(root, 'usr/bin/tool'), 'tool\n');
  await chmod(join(root, 'usr/bin/tool'), 0o755);
  await writeFile(join(root, 'usr/bin/a'), 'linked\n');
  await link(join(root, 'usr/bin/a'), join(root, 'usr/bin/b'));
  await writeFile(join(root, 'usr/share/doc/pkg/README'), 'read me\n');
  await writeFile(join(root, 'var/lib/d/x'), 'x\n');
  await symlink('usr/bin', join(root, 'bin'));
  await chmod(join(root, 'root'), 0o700);
  await chown(join(root, 'usr/share'), 5, 6);
  await chmod(join(root, 'usr/share'), 0o750);
  for (const p of ['etc/passwd', 'usr/bin/tool', 'usr/share/doc/pkg/README', 'usr/share/doc/pkg', 'usr/share/doc', 'usr/share', 'usr/bin', 'usr']) {
    await utimes(join(root, p), T, T);
  }
}

async function onBase<T>(fn: (root: string) => Promise<T>): Promise<T> {
  return withTempDir(async (root) => {
    await makeBase(root);
    return fn(root);
  });
}

describe('walk snapshotter: what a step changed', () => {
  it('yields nothing when nothing changed', async () => {
    await onBase(async (root) => {
      expect(await stepLayer(root, async () => {})).toEqual([]);
    });
  });

  it('writes a changed file after its unchanged parents, with their real modes and owners', async () => {
    await onBase(async (root) => {
      const layer = await stepLayer(root, () => writeFile(join(root, 'usr/share/doc/pkg/README'), 'READ ME\n'));
      expect(summary(layer)).toEqual(['usr/ dir 755 0:0', 'usr/share/ dir 750 5:6', 'usr/share/doc/ dir 755 0:0', 'usr/share/doc/pkg/ dir 755 0:0', 'usr/share/doc/pkg/README file 644 0:0']);
      expect(layer.find((m) => m.name === 'usr/share/')?.mtime).toBe(1_600_000_000);
      expect(layer.at(-1)?.content.toString()).toBe('READ ME\n');
    });
  });

  it('sees a same-size rewrite whose mtime was put back (ctime moved)', async () => {
    await onBase(async (root) => {
      const layer = await stepLayer(root, async () => {
        await writeFile(join(root, 'etc/passwd'), 'ROOT:x:0:0:root:/root:/bin/sh\n');
        await utimes(join(root, 'etc/passwd'), T, T);
      });
      expect(summary(layer)).toEqual(['etc/ dir 755 0:0', 'etc/passwd file 644 0:0']);
      expect(layer[1]?.content.toString()).toMatch(/^ROOT:/);
      expect(layer[1]?.mtime).toBe(1_600_000_000);
    });
  });

  it('lists a directory again when an entry went away even though its mtime was put back', async () => {
    await onBase(async (root) => {
      const layer = await stepLayer(root, async () => {
        await rm(join(root, 'usr/bin/tool'));
        await utimes(join(root, 'usr/bin'), T, T);
      });
      expect(summary(layer)).toEqual(['usr/ dir 755 0:0', 'usr/bin/ dir 755 0:0', 'usr/bin/.wh.tool file 0 0:0']);
    });
  });

  it('captures a mode-only change (chmod 4755) and an owner-only change', async () => {
    await onBase(async (root) => {
      const layer = await stepLayer(root, async () => {
        await chmod(join(root, 'usr/bin/tool'), 0o4755);
        await chown(join(root, 'var/lib/d/x'), 1000, 1001);
      });
      expect(summary(layer)).toEqual([
        'usr/ dir 755 0:0',
        'usr/bin/ dir 755 0:0',
        'usr/bin/tool file 4755 0:0',
        'var/ dir 755 0:0',
        'var/lib/ dir 755 0:0',
        'var/lib/d/ dir 755 0:0',
        'var/lib/d/x file 644 1000:1001',
      ]);
      expect(layer[2]?.content.toString()).toBe('tool\n');
    });
  });

  it('captures xattr-only changes (setfattr, setcap) of files and directories, with the attributes in the layer', async () => {
    await onBase(async (root) => {
      const layer = await stepLayer(root, () =>
        sh(root, 'setfattr -n user.a -v test etc/hosts && setcap cap_net_raw+ep usr/bin/tool && setfattr -n user.d -v dir usr/share/doc'),
      );
      expect(summary(layer)).toEqual([
        'etc/ dir 755 0:0',
        'etc/hosts file 644 0:0',
        'usr/ dir 755 0:0',
        'usr/bin/ dir 755 0:0',
        'usr/bin/tool file 755 0:0',
        'usr/share/ dir 750 5:6',
        'usr/share/doc/ dir 755 0:0',
      ]);
      const x = Object.fromEntries(layer.map((m) => [m.name, m.xattrs]));
      expect(x['etc/hosts']).toEqual({ 'user.a': Buffer.from('test').toString('hex') });
      expect(Object.keys(x['usr/bin/tool'] ?? {})).toEqual(['security.capability']);
      expect(x['usr/share/doc/']).toEqual({ 'user.d': Buffer.from('dir').toString('hex') });
      expect(x['usr/']).toBeUndefined();
    });
  });

  it('leaves out a directory whose ctime alone moved (a runner made and removed a mount point in it, and put its mtime back)', async () => {
    await onBase(async (root) => {
      const layer = await stepLayer(root, async () => {
        await writeFile(join(root, 'usr/bin/mountpoint'), '');
        await rm(join(root, 'usr/bin/mountpoint'));
        await utimes(join(root, 'usr/bin'), T, T);
        await chmod(join(root, 'usr/share/doc'), 0o755); // the same mode again: ctime only
      });
      expect(summary(layer)).toEqual([]);
    });
  });

  it('writes a directory whose xattrs were removed or changed, though only its ctime moved', async () => {
    await onBase(async (root) => {
      await sh(root, 'setfattr -n user.d -v one usr/share/doc && setfattr -n user.e -v gone usr/share/doc/pkg');
      const layer = await stepLayer(root, () => sh(root, 'setfattr -n user.d -v two usr/share/doc && setfattr -x user.e usr/share/doc/pkg'));
      expect(summary(layer)).toEqual(['usr/ dir 755 0:0', 'usr/share/ dir 750 5:6', 'usr/share/doc/ dir 755 0:0', 'usr/share/doc/pkg/ dir 755 0:0']);
      const x = Object.fromEntries(layer.map((m) => [m.name, m.xattrs]));
      expect(x['usr/share/doc/']).toEqual({ 'user.d': Buffer.from('two').toString('hex') });
      expect(x['usr/share/doc/pkg/']).toBeUndefined();
    });
  });

  it('sees a directory xattr change in a later step from the state the previous diff handed on', async () => {
    await onBase(async (root) => {
      const snapshotter = await WalkSnapshotter.begin(root);
      const first: string[] = [];
      await sh(root, 'setfattr -n user.d -v one usr/share/doc');
      for await (const e of snapshotter.snapshot()) first.push(e.path);
      expect(first).toContain('usr/share/doc');
      await new Promise((r) => setTimeout(r, 30));
      const second: string[] = [];
      for await (const e of snapshotter.snapshot()) second.push(e.path);
      expect(second).toEqual([]);
      await sh(root, 'setfattr -x user.d usr/share/doc');
      const third: string[] = [];
      for await (const e of snapshotter.snapshot()) third.push(e.path);
      expect(third).toContain('usr/share/doc');
    });
  });

  it('ignores a directory whose ctime alone moved (a runner made and removed a mount point in it), and sees a removed attribute', async () => {
    await onBase(async (root) => {
      await sh(root, 'setfattr -n user.d -v dir usr/share/doc');
      const layer = await stepLayer(root, () =>
        // What a runner's scaffold does: create, remove, and put the mtime back (touch -r keeps the old time).
        sh(root, 'touch -r usr/bin /tmp/hoist-walk-ref.$$ && touch usr/bin/mountpoint && rm usr/bin/mountpoint && touch -r /tmp/hoist-walk-ref.$$ usr/bin && rm /tmp/hoist-walk-ref.$$ && setfattr -x user.d usr/share/doc'),
      );
      expect(summary(layer)).toEqual(['usr/ dir 755 0:0', 'usr/share/ dir 750 5:6', 'usr/share/doc/ dir 755 0:0']);
      expect(layer.find((m) => m.name === 'usr/share/doc/')?.xattrs).toBeUndefined();
    });
  });

  it('turns a deletion into a whiteout, and a deleted tree into one whiteout at its top', async () => {
    await onBase(async (root) => {
      const layer = await stepLayer(root, async () => {
        await rm(join(root, 'etc/passwd'));
        await rm(join(root, 'usr/share/doc'), { recursive: true });
      });
      expect(summary(layer)).toEqual(['etc/ dir 755 0:0', 'etc/.wh.passwd file 0 0:0', 'usr/ dir 755 0:0', 'usr/share/ dir 750 5:6', 'usr/share/.wh.doc file 0 0:0']);
    });
  });

  it('replaces a directory by a file, and a file by a directory, without whiteouts for what was below', async () => {
    await onBase(async (root) => {
      const layer = await stepLayer(root, async () => {
        await rm(join(root, 'var/lib/d'), { recursive: true });
        await writeFile(join(root, 'var/lib/d'), 'now a file\n');
        await rm(join(root, 'etc/hosts'));
        await mkdir(join(root, 'etc/hosts'));
        await writeFile(join(root, 'etc/hosts/inside'), 'in\n');
      });
      expect(summary(layer)).toEqual([
        'etc/ dir 755 0:0',
        'etc/hosts/ dir 755 0:0',
        'etc/hosts/inside file 644 0:0',
        'var/ dir 755 0:0',
        'var/lib/ dir 755 0:0',
        'var/lib/d file 644 0:0',
      ]);
    });
  });

  it('makes a directory that was removed and made again opaque, with all of its new content', async () => {
    await onBase(async (root) => {
      const layer = await stepLayer(root, async () => {
        // Made beside the old one first, so it cannot reuse the old inode number.
        await mkdir(join(root, 'usr/share/doc.new/other'), { recursive: true });
        await writeFile(join(root, 'usr/share/doc.new/other/f'), 'f\n');
        await rm(join(root, 'usr/share/doc'), { recursive: true });
        await rename(join(root, 'usr/share/doc.new'), join(root, 'usr/share/doc'));
      });
      expect(summary(layer)).toEqual([
        'usr/ dir 755 0:0',
        'usr/share/ dir 750 5:6',
        'usr/share/doc/ dir 755 0:0',
        'usr/share/doc/.wh..wh..opq file 0 0:0',
        'usr/share/doc/other/ dir 755 0:0',
        'usr/share/doc/other/f file 644 0:0',
      ]);
    });
  });

  it('records new and retargeted symlinks, a fifo and a device node', async () => {
    await onBase(async (root) => {
      const layer = await stepLayer(root, async () => {
        await rm(join(root, 'bin'));
        await symlink('/usr/bin', join(root, 'bin'));
        await symlink('../../etc/passwd', join(root, 'usr/bin/pw'));
        await sh(root, 'mkfifo var/fifo && mknod var/null c 1 3');
      });
      expect(summary(layer)).toEqual([
        'bin symlink 777 0:0 -> /usr/bin',
        'usr/ dir 755 0:0',
        'usr/bin/ dir 755 0:0',
        'usr/bin/pw symlink 777 0:0 -> ../../etc/passwd',
        'var/ dir 755 0:0',
        'var/fifo fifo 644 0:0',
        'var/null char-device 644 0:0',
      ]);
    });
  });

  it('writes a second name of one inode as a hard link, and brings a linked lower file along', async () => {
    await onBase(async (root) => {
      const layer = await stepLayer(root, async () => {
        await writeFile(join(root, 'etc/new'), 'new\n');
        await link(join(root, 'etc/new'), join(root, 'etc/new2'));
        await link(join(root, 'usr/bin/tool'), join(root, 'usr/bin/tool2')); // tool is from the base
      });
      expect(summary(layer)).toEqual([
        'etc/ dir 755 0:0',
        'etc/new file 644 0:0',
        'etc/new2 link 644 0:0 -> etc/new',
        'usr/ dir 755 0:0',
        'usr/bin/ dir 755 0:0',
        'usr/bin/tool file 755 0:0',
        'usr/bin/tool2 link 755 0:0 -> usr/bin/tool',
      ]);
      expect(layer.find((m) => m.name === 'usr/bin/tool')?.content.toString()).toBe('tool\n');
    });
  });

  it('writes every name of a changed hard-linked base file: content once, links to it', async () => {
    await onBase(async (root) => {
      const layer = await stepLayer(root, () => writeFile(join(root, 'usr/bin/b'), 'LINKED\n'));
      expect(summary(layer)).toEqual(['usr/ dir 755 0:0', 'usr/bin/ dir 755 0:0', 'usr/bin/a file 644 0:0', 'usr/bin/b link 644 0:0 -> usr/bin/a']);
      expect(layer[2]?.content.toString()).toBe('LINKED\n');
    });
  });

  it('never captures /proc, /dev, /sys or the paths the runner bound in', async () => {
    await onBase(async (root) => {
      const layer = await stepLayer(
        root,
        async () => {
          await writeFile(join(root, 'proc/cpuinfo'), 'cpu\n');
          await mkdir(join(root, 'dev/pts'));
          await writeFile(join(root, 'sys/x'), 'x\n');
          await writeFile(join(root, 'etc/resolv.conf'), 'nameserver 10.9.9.9\n'); // in place: etc/ itself is unchanged
          await writeFile(join(root, 'etc/hosts'), '10.0.0.2 host\n');
        },
        { exclude: ['/etc/resolv.conf', 'etc/hosts'] },
      );
      expect(layer).toEqual([]);
    });
  });

  it('never whites out an excluded path that the runner removed', async () => {
    await onBase(async (root) => {
      const before = await captureState(root, { exclude: ['/etc/resolv.conf'] });
      await rm(join(root, 'etc/resolv.conf'));
      await rm(join(root, 'proc'), { recursive: true });
      expect(summary(await layerOf(root, before))).toEqual(['etc/ dir 755 0:0']);
    });
  });

  it('takes owners from the override map where the runner recorded them, before and after', async () => {
    await onBase(async (root) => {
      const before = await captureState(root, { owners: new Map([['etc/passwd', { uid: 0, gid: 0 }]]) });
      await writeFile(join(root, 'usr/bin/mine'), 'mine\n');
      const owners = new Map([
        ['usr/bin/mine', { uid: 1000, gid: 1000 }],
        ['etc/passwd', { uid: 0, gid: 42 }], // a chown the kernel could not store
      ]);
      expect(summary(await layerOf(root, before, { owners }))).toEqual([
        'etc/ dir 755 0:0',
        'etc/passwd file 644 0:42',
        'usr/ dir 755 0:0',
        'usr/bin/ dir 755 0:0',
        'usr/bin/mine file 644 1000:1000',
      ]);
    });
  });

  it('orders whiteouts among their siblings as the layer writer wants them', async () => {
    await onBase(async (root) => {
      await mkdir(join(root, 'o/a'), { recursive: true });
      await writeFile(join(root, 'o/zz'), 'z');
      const layer = await stepLayer(root, async () => {
        await rm(join(root, 'o/a'), { recursive: true });
        await rm(join(root, 'o/zz'));
        for (const n of ['-x', 'A', 'a-b', 'b', 'é']) await writeFile(join(root, 'o', n), n);
      });
      expect(layer.map((m) => m.name)).toEqual(['o/', 'o/-x', 'o/.wh.a', 'o/.wh.zz', 'o/A', 'o/a-b', 'o/b', 'o/é']);
    });
  });

  it('hands the state after a step to the next step, which then needs no capture of its own', async () => {
    await onBase(async (root) => {
      const first = diffState(root, await captureState(root, { exclude: ['etc/hosts'] }));
      expect(() => first.after()).toThrow(HoistError);
      await writeFile(join(root, 'etc/new'), 'one\n');
      const entries: string[] = [];
      for await (const e of first) entries.push(e.path);
      expect(entries).toEqual(['etc', 'etc/new']);

      const second = first.after();
      expect(second.excluded.has('etc/hosts')).toBe(true);
      await writeFile(join(root, 'etc/new'), 'two\n');
      await writeFile(join(root, 'etc/hosts'), 'excluded still\n');
      const layer = await layerOf(root, second);
      expect(summary(layer)).toEqual(['etc/ dir 755 0:0', 'etc/new file 644 0:0']);
      expect(layer[1]?.content.toString()).toBe('two\n');
    });
  });

  it('WalkSnapshotter: each snapshot is what changed since the previous one', async () => {
    await onBase(async (root) => {
      const snapshotter = await WalkSnapshotter.begin(root, { exclude: ['etc/resolv.conf'] });
      const names = async (): Promise<string[]> => {
        const out: string[] = [];
        for await (const { header } of readTar(createTarStream(snapshotter.snapshot(), { ordered: true }))) out.push(header.name);
        return out;
      };
      await writeFile(join(root, 'etc/one'), '1');
      expect(await names()).toEqual(['etc/', 'etc/one']);
      await chmod(join(root, 'etc/one'), 0o600);
      await writeFile(join(root, 'etc/resolv.conf'), 'nameserver 10.1.1.1\n');
      expect(await names()).toEqual(['etc/', 'etc/one']);
      expect(await names()).toEqual([]);
      await rm(join(root, 'etc/one'));
      expect(await names()).toEqual(['etc/', 'etc/.wh.one']);
    });
  });
});
