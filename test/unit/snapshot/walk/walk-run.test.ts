/**
 * A RUN-like step made of real shell commands on a busybox-like tree: the
 * layer must hold exactly what changed, and laying it over a copy of the
 * tree as it was must give the tree as it is, file for file, owner for
 * owner (`find` and `sha256sum` are the judges).
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { captureState } from '../../../../snapshot/walk/index.js';
import { withTempDir } from '../fixtures.js';
import { applyMembers, layerOf, sh, summary, treeListing } from './walk-layer.js';

const APPLETS = ['sh', 'ls', 'cp', 'rm', 'ln', 'chmod', 'su'];

async function makeBusyboxTree(root: string): Promise<void> {
  for (const d of ['bin', 'etc', 'home', 'root', 'tmp', 'usr/share/doc/busybox', 'var/cache/apk', 'opt/app', 'proc', 'dev', 'sys']) {
    await mkdir(join(root, d), { recursive: true });
  }
  await writeFile(join(root, 'bin/busybox'), randomBytes(300 * 1024)); // larger than one read chunk of the writer
  await chmod(join(root, 'bin/busybox'), 0o755);
  for (const a of APPLETS) await symlink('busybox', join(root, 'bin', a));
  await writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
  await writeFile(join(root, 'etc/group'), 'root:x:0:\napp:x:1000:\n');
  await writeFile(join(root, 'etc/motd'), 'welcome\n');
  await writeFile(join(root, 'usr/share/doc/busybox/README'), 'docs\n');
  await writeFile(join(root, 'var/cache/apk/index'), 'index\n');
  await writeFile(join(root, 'opt/app/version'), 'v1\n');
  await chmod(join(root, 'root'), 0o700);
  await chmod(join(root, 'tmp'), 0o1777);
  await sh(root, 'touch -d @1600000000 bin/busybox etc/* usr/share/doc/busybox/README var/cache/apk/index opt/app/version');
}

/** cp -a, rm -rf, chmod 4755, ln, ln -s, a directory replaced by a file and one made again, chown, a rewrite with mtime put back. */
const STEP = `
cp -a bin usr/local-bin
rm -rf usr/share/doc
chmod 4755 bin/busybox
ln bin/busybox bin/bb
ln -s /bin/busybox usr/env
rm -rf var/cache && echo replaced > var/cache
rm etc/motd
mkdir -p home/app && echo 'PS1=$ ' > home/app/.profile && chown -R 1000:1000 home/app
mkdir opt/app.new && echo v2 > opt/app.new/version && rm -rf opt/app && mv opt/app.new opt/app
echo 'app:x:1000:' > etc/group.tmp && cat etc/group.tmp > etc/group && rm etc/group.tmp
printf 'root:x:0:0:root:/root:/bin/ash\\napp:x:1000:1000::/home/app:/bin/ash\\n' > etc/passwd && touch -d @1600000000 etc/passwd
echo mounted > proc/self-status
`;

describe('walk snapshotter on a RUN-like step', () => {
  it('captures exactly what real shell commands changed, and the layer rebuilds the tree', async () => {
    await withTempDir(async (work) => {
      const root = join(work, 'rootfs');
      const copy = join(work, 'copy');
      await mkdir(root);
      await makeBusyboxTree(root);
      await sh(work, 'cp -a rootfs copy');

      const before = await captureState(root, { exclude: ['/etc/resolv.conf'] });
      await sh(root, STEP);
      const layer = await layerOf(root, before);

      // bin/bb sorts before bin/busybox, so it carries the content and busybox links to it.
      expect(summary(layer)).toEqual([
        'bin/ dir 755 0:0',
        'bin/bb file 4755 0:0',
        'bin/busybox link 4755 0:0 -> bin/bb',
        'etc/ dir 755 0:0',
        'etc/.wh.motd file 0 0:0',
        'etc/group file 644 0:0',
        'etc/passwd file 644 0:0',
        'home/ dir 755 0:0',
        'home/app/ dir 755 1000:1000',
        'home/app/.profile file 644 1000:1000',
        'opt/ dir 755 0:0',
        'opt/app/ dir 755 0:0',
        'opt/app/.wh..wh..opq file 0 0:0',
        'opt/app/version file 644 0:0',
        'usr/ dir 755 0:0',
        'usr/env symlink 777 0:0 -> /bin/busybox',
        'usr/local-bin/ dir 755 0:0',
        'usr/local-bin/busybox file 755 0:0',
        ...APPLETS.slice()
          .sort()
          .map((a) => `usr/local-bin/${a} symlink 777 0:0 -> busybox`),
        'usr/share/ dir 755 0:0',
        'usr/share/.wh.doc file 0 0:0',
        'var/ dir 755 0:0',
        'var/cache file 644 0:0',
      ]);
      expect(layer.find((m) => m.name === 'bin/bb')?.size).toBe(300 * 1024);

      await applyMembers(copy, layer);
      // proc is excluded: the runner's, not the step's (its mtime moved with what was written into it).
      const notProc = (l: string): boolean => !/^proc[|/]/.test(l);
      expect((await treeListing(copy)).filter(notProc)).toEqual((await treeListing(root)).filter(notProc));
    });
  });
});
