/**
 * A real busybox image (from Debian's busybox-static) unpacked by hoist and
 * by umoci, the independent unpacker, as root: the two trees must be the
 * same, type for type, mode for mode, owner for owner, link for link.
 *
 * The image has two layers: the busybox rootfs written by hoist's layer
 * writer (added to the layout with `umoci raw add-layer`), and a second one
 * that umoci computed after changes made in its bundle (deletions, a
 * replaced directory, mode and owner changes, a hard link to a file of the
 * lower layer), so whiteouts come in umoci's own form.
 */
import { execFile } from 'node:child_process';
import { chmod, chown, link, mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entriesFromDirectory } from '../../../snapshot/dir-source.js';
import { createTarStream } from '../../../snapshot/layer-tar.js';
import { applyLayers, removeRootfs, type ApplySummary } from '../../../snapshot/rootfs/index.js';
import { makeBusyboxRootfs } from '../../helpers/busybox-rootfs.js';
import { ensureDebianPackages } from '../../helpers/packages.js';
import { execOk } from '../../helpers/peers/exec.js';
import { readRootfs } from '../../helpers/peers/rootfs.js';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';

const run = promisify(execFile);
const asRoot = process.getuid?.() === 0;

let work: string;

beforeAll(async () => {
  await ensureDebianPackages(['umoci', 'busybox-static']);
  work = await mkdtemp(join(tmpdir(), 'hoist-rootfs-busybox-'));
});

afterAll(async () => {
  if (work !== undefined) await removeRootfs(work);
});

/** The layer blobs of `tag` in the OCI layout `layout`, bottom first. */
async function layerBlobs(layout: string, tag: string): Promise<string[]> {
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as {
    manifests: Array<{ digest: string; annotations?: Record<string, string> }>;
  };
  const desc = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (desc === undefined) throw new Error(`no ${tag} in ${layout}`);
  const blob = (d: string): string => join(layout, 'blobs', ...d.split(':'));
  const manifest = JSON.parse(await readFile(blob(desc.digest), 'utf8')) as { layers: Array<{ digest: string }> };
  return manifest.layers.map((l) => blob(l.digest));
}

describe.runIf(asRoot)('a busybox image unpacked by hoist and by umoci (as root)', () => {
  it('gives the same tree', async () => {
    // Layer 1: busybox plus the kinds of entries a base image holds.
    const src = join(work, 'src');
    await makeBusyboxRootfs(src);
    await mkdir(join(src, 'dev'));
    await run('mknod', ['-m', '666', join(src, 'dev/null'), 'c', '1', '3']);
    await run('mkfifo', ['-m', '600', join(src, 'dev/initctl')]);
    await chmod(join(src, 'bin/busybox'), 0o4755);
    await link(join(src, 'bin/busybox'), join(src, 'bin/busybox.hard'));
    await writeFile(join(src, 'etc/motd'), 'hello\n');
    await writeFile(join(src, 'home/app/.profile'), 'PS1=app\n');
    await chown(join(src, 'home/app/.profile'), 1000, 1000);
    await mkdir(join(src, 'var/lib/old'), { recursive: true });
    await writeFile(join(src, 'var/lib/old/data'), 'old');
    await utimes(join(src, 'etc/motd'), 1_000_000, 1_000_000);
    await symlink('../var/lib', join(src, 'etc/lib-link'));
    const l1 = join(work, 'l1.tar');
    await pipeline(createTarStream(entriesFromDirectory(src), { ordered: true }), createWriteStream(l1));

    const layout = join(work, 'layout');
    await execOk('umoci', ['init', '--layout', layout]);
    await execOk('umoci', ['new', '--image', `${layout}:t`]);
    await execOk('umoci', ['raw', 'add-layer', '--image', `${layout}:t`, l1]);

    // Layer 2: changes made in umoci's bundle, diffed by umoci.
    const bundle = join(work, 'bundle');
    await execOk('umoci', ['unpack', '--image', `${layout}:t`, bundle]);
    const r = join(bundle, 'rootfs');
    await rm(join(r, 'etc/motd'));
    await rm(join(r, 'var/lib/old'), { recursive: true });
    await writeFile(join(r, 'var/lib/old'), 'a file now');
    await chmod(join(r, 'tmp'), 0o1777);
    await chmod(join(r, 'etc/group'), 0o600);
    await chown(join(r, 'etc/passwd'), 0, 1000);
    await link(join(r, 'bin/busybox'), join(r, 'bin/sh.hard'));
    await rm(join(r, 'etc/lib-link'));
    await mkdir(join(r, 'etc/lib-link'));
    await writeFile(join(r, 'etc/lib-link/inside'), 'x');
    await execOk('umoci', ['repack', '--image', `${layout}:t`, bundle]);

    const blobs = await layerBlobs(layout, 't');
    expect(blobs).toHaveLength(2);

    const mine = join(work, 'hoist');
    await mkdir(mine);
    const summary: ApplySummary = await applyLayers(mine, blobs);
    expect(summary).toMatchObject({ layers: 2, skippedDevices: 0, ownersApplied: true });

    const theirs = join(work, 'umoci');
    await execOk('umoci', ['unpack', '--image', `${layout}:t`, theirs]);

    const a = await readRootfs(mine);
    const b = await readRootfs(join(theirs, 'rootfs'));
    expect(a.size).toBeGreaterThan(250);
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
    for (const [path, entry] of b) expect({ path, ...a.get(path) }).toEqual({ path, ...entry });

    // And what the changes should have done, not only agreement.
    expect(a.has('etc/motd')).toBe(false);
    expect(a.get('var/lib/old')?.type).toBe('file');
    expect(a.get('bin/busybox')).toMatchObject({ mode: 0o4755, links: ['bin/busybox', 'bin/busybox.hard', 'bin/sh.hard'] });
    expect(a.get('dev/null')).toMatchObject({ type: 'char' });
    expect(a.get('home/app/.profile')).toMatchObject({ uid: 1000, gid: 1000 });
    expect(a.get('etc/passwd')).toMatchObject({ uid: 0, gid: 1000 });
    expect(a.get('bin/ls')).toMatchObject({ type: 'symlink', linkname: '/bin/busybox' });
    expect(a.get('tmp')).toMatchObject({ mode: 0o1777 });
  });
});
