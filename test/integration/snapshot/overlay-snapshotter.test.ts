/**
 * The overlay snapshotter on its own: a step's changes made through a real
 * overlay mount in a user namespace (util-linux unshare and mount, the
 * options the runners use), read from the upper dir, and compared with what
 * the walk snapshotter makes of the same change to a copy of the same tree.
 * After the merge the rootfs must equal the copy the walk saw.
 */
import { execFile } from 'node:child_process';
import { chmod, link, mkdir, readdir, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { readTar } from '../../../src/tar/index.js';
import { overlayOp } from '../../../src/run/namespace-setup.js';
import type { LayerEntry } from '../../../snapshot/layer-entry.js';
import { createTarStream } from '../../../snapshot/layer-tar.js';
import { OverlaySnapshotter } from '../../../snapshot/overlay/index.js';
import { captureState } from '../../../snapshot/walk/index.js';
import { withTempDir } from '../../unit/snapshot/fixtures.js';
import { layerOf, summary, treeListing, type Member } from '../../unit/snapshot/walk/walk-layer.js';

const run = promisify(execFile);
const T = new Date(1_600_000_000_000);

async function makeBase(root: string): Promise<void> {
  for (const d of ['etc', 'usr/bin', 'usr/share/doc/pkg', 'gone/deep/er', 'replaced/sub', 'proc', 'dev', 'sys', 'deep/a/b']) await mkdir(join(root, d), { recursive: true });
  await writeFile(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  await writeFile(join(root, 'etc/delete-me'), 'bye\n');
  await writeFile(join(root, 'usr/bin/tool'), 'tool\n');
  await writeFile(join(root, 'usr/bin/single'), 'one name\n');
  await writeFile(join(root, 'usr/share/doc/pkg/README'), 'read me\n');
  await writeFile(join(root, 'gone/deep/er/file'), 'x\n');
  await writeFile(join(root, 'replaced/sub/old'), 'old\n');
  await writeFile(join(root, 'replaced/keep'), 'hidden by the new directory\n');
  await writeFile(join(root, 'was-file'), 'becomes a directory\n');
  await mkdir(join(root, 'was-dir/inner'), { recursive: true });
  await writeFile(join(root, 'deep/a/b/file'), 'deep\n');
  await writeFile(join(root, 'deep/a/b/stays'), 'stays\n');
  await symlink('usr/bin/tool', join(root, 'old-link'));
  await writeFile(join(root, 'usr/bin/a'), 'linked\n');
  await link(join(root, 'usr/bin/a'), join(root, 'usr/bin/b'));
  await chmod(join(root, 'usr/share'), 0o750);
  for (const p of ['etc/passwd', 'usr/bin/tool', 'usr/share/doc/pkg/README', 'usr/share/doc/pkg', 'usr/share/doc', 'usr/share', 'usr/bin', 'usr', 'etc']) {
    await utimes(join(root, p), T, T);
  }
}

/** Runs `script` in `root` as the overlay runners do: on an overlay mounted over `root`, in a user namespace. */
async function onOverlay(root: string, upper: string, work: string, script: string): Promise<void> {
  const op = overlayOp(root, { upper, work }, true);
  if (op.op !== 'overlay') throw new Error('expected an overlay op');
  await run('unshare', ['--user', '--map-root-user', '--mount', '--propagation=private', '--', 'sh', '-euc', 'mount -t overlay -o "$1" hoist-overlay "$2"; cd "$2"; eval "$3"', 'sh', op.options, root, script]);
}

async function members(entries: readonly LayerEntry[]): Promise<Member[]> {
  const out: Member[] = [];
  for await (const { header, body } of readTar(createTarStream(entries, { ordered: true }))) {
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(c);
    const { name, type, mode, uid, gid, mtime, size, linkname } = header;
    const m: Member = { name, type, mode, uid, gid, mtime, size, linkname, content: Buffer.concat(chunks) };
    if (header.xattrs) m.xattrs = Object.fromEntries(Object.entries(header.xattrs).map(([k, v]) => [k, v.toString('hex')]));
    out.push(m);
  }
  return out;
}

/** What must agree between the two snapshotters: everything but the times of what the step touched (the two runs are apart in time). */
function comparable(layer: readonly Member[]): Array<Omit<Member, 'mtime' | 'content'> & { content: string }> {
  return layer.map(({ mtime: _mtime, content, ...rest }) => ({ ...rest, content: content.toString('utf8') }));
}

function withoutTimes(listing: readonly string[]): string[] {
  return listing.map((l) => l.split('|').filter((_, i) => i !== 5).join('|'));
}

interface Both {
  overlay: Member[];
  walk: Member[];
  overlayTree: string[];
  walkTree: string[];
  leftovers: string[];
  /** Names of the attributes on every path of the merged rootfs. */
  rootfsXattrs: string[];
}

/** The same step on two copies of the base: one through the overlay snapshotter, one seen by the walk. */
async function bothWays(script: string): Promise<Both> {
  return withTempDir(async (dir) => {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    const scratch = join(dir, 'scratch');
    await mkdir(a);
    await mkdir(scratch);
    await makeBase(a);
    await run('cp', ['-a', a, b]);

    const before = await captureState(b);
    await run('sh', ['-euc', script], { cwd: b });
    const walk = await layerOf(b, before);

    const snapshotter = new OverlaySnapshotter(a, { scratchDir: scratch });
    const dirs = await snapshotter.beforeStep();
    await onOverlay(a, dirs.upper, dirs.work, script);
    const overlay = await members(await snapshotter.changes());
    const { stdout } = await run('getfattr', ['-R', '-h', '--absolute-names', '-m', '-', a], { maxBuffer: 16 << 20 });
    const rootfsXattrs = stdout.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    return { overlay, walk, overlayTree: await treeListing(a), walkTree: await treeListing(b), leftovers: await readdir(scratch), rootfsXattrs };
  });
}

function expectSame(r: Both): void {
  expect(comparable(r.overlay)).toEqual(comparable(r.walk));
  expect(withoutTimes(r.overlayTree)).toEqual(withoutTimes(r.walkTree));
  expect(r.leftovers).toEqual([]);
  expect(r.rootfsXattrs.filter((name) => name.includes('overlay'))).toEqual([]);
}

describe('overlay snapshotter: the upper dir as a layer, the same as the walk makes', () => {
  it('turns deletions into whiteouts, collapsed under a deleted directory', async () => {
    const r = await bothWays('rm etc/delete-me; rm -r gone; rm deep/a/b/file');
    expectSame(r);
    expect(summary(r.overlay)).toEqual([
      '.wh.gone file 0 0:0',
      'deep/ dir 755 0:0',
      'deep/a/ dir 755 0:0',
      'deep/a/b/ dir 755 0:0',
      'deep/a/b/.wh.file file 0 0:0',
      'etc/ dir 755 0:0',
      'etc/.wh.delete-me file 0 0:0',
    ]);
    expect(r.overlay.map((m) => m.name)).toContain('.wh.gone');
    expect(r.overlay.map((m) => m.name)).not.toContain('gone/deep/');
  });

  it('makes a replaced directory opaque, and a type change just new', async () => {
    // The old directory is moved away until the new one exists: a directory removed first may give its inode number to the new one, and the walk then cannot tell it was replaced.
    const r = await bothWays('mv replaced .old; mkdir replaced; rm -r .old; echo new > replaced/n; rm was-file; mkdir was-file; echo in > was-file/x; rm -r was-dir; echo now a file > was-dir');
    expectSame(r);
    const names = r.overlay.map((m) => m.name);
    expect(names).toContain('replaced/.wh..wh..opq');
    expect(names).not.toContain('was-file/.wh..wh..opq');
    expect(names).not.toContain('.wh.was-file');
    expect(r.overlayTree.some((l) => l.startsWith('replaced/keep|'))).toBe(false);
  });

  it('carries symlinks, new hard links (to base files and among new ones) and a mode-only change', async () => {
    const r = await bothWays('ln -s usr/bin/tool new-link; ln -sf etc/passwd old-link; ln usr/bin/single usr/bin/single2; echo n > n1; ln n1 n2; chmod 4755 usr/bin/tool');
    expectSame(r);
    const summaryLines = summary(r.overlay);
    expect(summaryLines).toContain('usr/bin/tool file 4755 0:0');
    expect(summaryLines).toContain('old-link symlink 777 0:0 -> etc/passwd');
    expect(summaryLines.filter((l) => / link /.test(l))).toHaveLength(2);
  });

  it('carries extended attributes and leaves overlayfs\'s own out, of the layer and of the rootfs', async () => {
    const r = await bothWays('setfattr -n user.note -v hello usr/bin/tool; mkdir -p newdir/sub; echo hi > newdir/sub/f; setfattr -n user.dir -v d newdir; mv usr/share/doc/pkg/README newdir/sub/moved');
    expectSame(r);
    const tool = r.overlay.find((m) => m.name === 'usr/bin/tool');
    expect(tool?.xattrs).toEqual({ 'user.note': Buffer.from('hello').toString('hex') });
    for (const m of r.overlay) for (const name of Object.keys(m.xattrs ?? {})) expect(name).not.toMatch(/overlay/);
    expect(r.rootfsXattrs).toEqual(expect.arrayContaining(['user.note', 'user.dir']));
  });

  it('leaves /proc, /dev and /sys out', async () => {
    const r = await bothWays('echo x > sys/written; echo y > etc/new');
    expect(r.overlay.map((m) => m.name)).toEqual(['etc/', 'etc/new']);
    expect(comparable(r.overlay)).toEqual(comparable(r.walk));
  });
});
