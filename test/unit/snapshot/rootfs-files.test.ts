/**
 * RootfsFiles answers as the in-memory FsView does for the same layer: the
 * layer is applied to a directory on disk (the real applier) and to a view,
 * and every question the build steps ask is put to both.
 */
import { chmod, utimes } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { FsView, type ViewNode } from '../../../snapshot/fs-view.js';
import type { LayerEntry } from '../../../snapshot/layer-entry.js';
import { applyLayers } from '../../../snapshot/rootfs/index.js';
import { RootfsFiles } from '../../../snapshot/rootfs/rootfs-files.js';
import type { StageFiles } from '../../../snapshot/stage-files.js';
import { codeOf } from '../../helpers/errors.js';
import { dir, file, symlink, tarBytes, withTempDir } from './fixtures.js';

const LAYER: LayerEntry[] = [
  dir('etc'),
  file('etc/passwd', 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n'),
  file('etc/shadow', 'secret\n', { mode: 0o640, gid: 42 }),
  dir('usr', { mode: 0o750, uid: 7, gid: 8 }),
  dir('usr/lib'),
  file('usr/lib/libx.so', 'x'.repeat(300), { mode: 0o755 }),
  symlink('lib', 'usr/lib'),
  symlink('abs', '/usr/lib'),
  symlink('up', '../../../usr'),
  symlink('loop-a', 'loop-b'),
  symlink('loop-b', 'loop-a'),
  symlink('dangling', '/nowhere/at/all'),
  dir('srv'),
  symlink('srv/etc-link', '/etc/passwd'),
  { kind: 'hardlink', path: 'usr/lib/libx.so.1', target: 'usr/lib/libx.so', mode: 0o755, uid: 0, gid: 0, mtime: 1_700_000_000 },
];

const PATHS = ['', '/', 'etc', '/etc/passwd', 'etc/shadow', 'usr', 'usr/lib/libx.so', 'lib', 'lib/libx.so', '/abs/libx.so', 'up/lib', 'up/../etc', 'srv/etc-link', 'missing', 'missing/below', 'etc/passwd/below', 'dangling', 'usr/lib/libx.so.1'];

/** What a node says, without what differs by construction (a symlink's own mtime, the key naming a hard-link group). */
function meta(node: ViewNode | undefined): unknown {
  if (node === undefined) return undefined;
  const { kind, mode, uid, gid } = node;
  return {
    kind, mode, uid, gid,
    ...(kind === 'symlink' ? { linkname: node.linkname } : { mtime: node.mtime }),
    ...(kind === 'file' ? { size: node.size, linked: node.linkKey !== undefined } : {}),
  };
}

function answers(files: StageFiles): unknown {
  const out: Record<string, unknown> = {};
  for (const p of PATHS) {
    const attempt = (f: () => unknown) => {
      try {
        return f();
      } catch (err) {
        return `error ${(err as { code?: string }).code ?? String(err)}`;
      }
    };
    out[p] = {
      lstat: attempt(() => meta(files.lstat(p))),
      resolve: attempt(() => ({ ...files.resolve(p), node: meta(files.resolve(p).node) })),
      resolveFollow: attempt(() => ({ ...files.resolve(p, { followFinal: true }), node: meta(files.resolve(p, { followFinal: true }).node) })),
      stat: attempt(() => meta(files.stat(p))),
      readdir: attempt(() => files.readdir(p)),
    };
  }
  return out;
}

async function onDisk<T>(entries: LayerEntry[], fn: (files: RootfsFiles, view: FsView) => Promise<T>): Promise<T> {
  const tar = await tarBytes(entries);
  return withTempDir(async (root) => {
    await applyLayers(root, [Readable.from([tar])], { privileged: process.getuid?.() === 0 });
    // The root is the directory's own (a stage's rootfs is made 0755); the view's is 0755 at time 0.
    await chmod(root, 0o755);
    await utimes(root, 0, 0);
    const files = new RootfsFiles(root, (_p, st) => ({ uid: st.uid, gid: st.gid }));
    return fn(files, FsView.empty().withLayer(entries));
  });
}

describe('RootfsFiles', () => {
  it.runIf(process.getuid?.() === 0)('answers lstat, resolve, stat and readdir as the view of the same layer does', async () => {
    await onDisk(LAYER, async (files, view) => {
      expect(answers(files)).toEqual(answers(view));
      expect(files.resolve('/abs/../lib', { followFinal: true }).path).toBe('usr/lib');
    });
  });

  it('reads files (following links inside the root) and refuses what is not one', async () => {
    await onDisk(LAYER, async (files) => {
      expect((await files.readFile('/srv/etc-link')).toString()).toMatch(/^root:x:0:0/);
      expect((await files.readFile('lib/libx.so')).length).toBe(300);
      await expect(files.readFile('/etc')).rejects.toMatchObject({ code: 'NOT_A_FILE' });
      await expect(files.readFile('/missing')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(files.readFile('/usr/lib/libx.so', { maxBytes: 10 })).rejects.toMatchObject({ code: 'FILE_TOO_LARGE' });
      expect(codeOf(() => files.stat('loop-a'))).toBe('SYMLINK_LOOP');
    });
  });

  it('walks one name at a time with cursors, never following a link', async () => {
    await onDisk(LAYER, async (files) => {
      const root = files.cursor('');
      expect(root?.node.kind).toBe('dir');
      const lib = files.child(root as NonNullable<typeof root>, 'lib');
      expect(lib?.node).toMatchObject({ kind: 'symlink', linkname: 'usr/lib' });
      expect(files.child(lib as NonNullable<typeof lib>, 'libx.so')).toBeUndefined();
      const usr = files.child(root as NonNullable<typeof root>, 'usr');
      expect(files.child(usr as NonNullable<typeof usr>, 'lib')?.node.kind).toBe('dir');
      for (const name of ['..', '.', '', 'a/b']) expect(files.child(root as NonNullable<typeof root>, name)).toBeUndefined();
    });
  });

  it('never looks outside the root: a link to a host path is taken inside it', async () => {
    await onDisk([...LAYER, symlink('hostetc', '/etc'), symlink('hostroot', '../../../../..')], async (files) => {
      // The host has /etc/hostname; the layer has no etc/hostname.
      expect(files.lstat('hostetc/hostname')).toBeUndefined();
      expect(files.stat('hostetc/hostname')).toBeUndefined();
      expect(files.resolve('hostroot/etc/hostname', { followFinal: true })).toEqual({ path: 'etc/hostname', node: undefined });
      expect((await files.readFile('hostetc/passwd')).toString()).toContain('app:x:1000');
      expect(files.readdir('hostroot')).toEqual(files.readdir('/'));
    });
  });

  it('gives the owners the caller knows instead of the inode\'s', async () => {
    await onDisk(LAYER, async (_files, _view) => {
      const owners = new Map([['etc/shadow', { uid: 0, gid: 42 }], ['usr', { uid: 7, gid: 8 }]]);
      const files = new RootfsFiles(_files.dir, (p, st) => owners.get(p) ?? { uid: st.uid, gid: st.gid });
      expect(files.lstat('etc/shadow')).toMatchObject({ uid: 0, gid: 42, mode: 0o640 });
      expect(files.stat('up')).toMatchObject({ kind: 'dir', uid: 7, gid: 8, mode: 0o750 });
    });
  });
});
