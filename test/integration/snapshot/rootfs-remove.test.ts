/**
 * removeRootfs on a tree big enough for several `rm` at once: everything
 * goes, including directories without permissions; nothing outside the tree
 * is touched through a symlink; and a mount point inside the tree (left by a
 * runner that failed to undo it) is refused, its files intact.
 */
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { removeRootfs } from '../../../snapshot/rootfs/index.js';

let work: string;

beforeEach(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'hoist-test-remove-'));
});

afterEach(async () => {
  spawnSync('umount', ['-l', path.join(work, 'root', 'mnt', 'cache')]);
  await rm(work, { recursive: true, force: true });
});

/** 40 directories of 25 files, 200 files at the top of /gen: enough subtrees for the parallel removal. */
async function bigTree(root: string): Promise<void> {
  for (let d = 0; d < 40; d++) {
    const dir = path.join(root, 'app', `d${d}`);
    await mkdir(dir, { recursive: true });
    for (let f = 0; f < 25; f++) await writeFile(path.join(dir, `f${f}`), `file ${d}/${f}\n`);
  }
  await mkdir(path.join(root, 'gen'));
  for (let f = 0; f < 200; f++) await writeFile(path.join(root, 'gen', `g${f}`), 'x'.repeat(f));
  await writeFile(path.join(root, 'top-file'), 'top');
}

const exists = (p: string) => stat(p).then(
  () => true,
  () => false,
);

/** `fn` with PATH set to `value` (what removeRootfs's spawns search), restored after. */
async function withPath<T>(value: string, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.PATH;
  process.env.PATH = value;
  try {
    return await fn();
  } finally {
    process.env.PATH = saved;
  }
}

describe('removeRootfs', () => {
  it('removes a big tree, directories without permissions included, and follows no symlink out of it', async () => {
    const root = path.join(work, 'root');
    const outside = path.join(work, 'outside');
    await mkdir(path.join(outside, 'keep'), { recursive: true });
    await writeFile(path.join(outside, 'keep', 'precious'), 'keep me');
    await bigTree(root);
    // Links at both levels the parallel removal lists, to a directory outside the tree.
    await symlink(outside, path.join(root, 'link-out'));
    await symlink(path.join(outside, 'keep'), path.join(root, 'app', 'link-keep'));
    // A directory nobody may enter or list, two levels down and one.
    await mkdir(path.join(root, 'app', 'locked', 'inner'), { recursive: true });
    await writeFile(path.join(root, 'app', 'locked', 'inner', 'secret'), 's');
    await chmod(path.join(root, 'app', 'locked'), 0o000);
    await mkdir(path.join(root, 'sealed'));
    await writeFile(path.join(root, 'sealed', 'x'), 'x');
    await chmod(path.join(root, 'sealed'), 0o000);

    await removeRootfs(root);

    expect(await exists(root)).toBe(false);
    expect(await readFile(path.join(outside, 'keep', 'precious'), 'utf8')).toBe('keep me');
  });

  it('refuses a mount point inside the tree and leaves what is mounted there', async () => {
    const root = path.join(work, 'root');
    await bigTree(root);
    const mountPoint = path.join(root, 'mnt', 'cache');
    await mkdir(mountPoint, { recursive: true });
    // The test suite runs as root (.ci/run), where a runner's bind mounts could be left behind.
    const mounted = spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', mountPoint], { encoding: 'utf8' });
    expect(mounted.stderr, 'this test mounts a tmpfs: it needs root').toBe('');
    expect(mounted.status).toBe(0);
    await writeFile(path.join(mountPoint, 'cached'), 'still here');

    await expect(removeRootfs(root)).rejects.toMatchObject({ code: 'FS_CANNOT_REMOVE' });

    expect(await readFile(path.join(mountPoint, 'cached'), 'utf8')).toBe('still here');
    // Everything else went.
    expect(await exists(path.join(root, 'app'))).toBe(false);
    expect(await exists(path.join(root, 'gen'))).toBe(false);
  });
  it('starts the parallel rm processes through one xargs', async () => {
    const root = path.join(work, 'root');
    await bigTree(root);
    // An xargs that notes each start and how it ended, around the real one.
    const bin = path.join(work, 'bin');
    await mkdir(bin);
    const log = path.join(work, 'xargs.log');
    await writeFile(path.join(bin, 'xargs'), `#!/bin/sh\necho "$*" >> ${log}\n/usr/bin/xargs "$@"\ns=$?\necho "exit $s" >> ${log}\nexit $s\n`, { mode: 0o755 });
    await withPath(`${bin}:${process.env.PATH ?? ''}`, () => removeRootfs(root));
    expect(await exists(root)).toBe(false);
    const lines = (await readFile(log, 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^-0 -r -P 8 -n \d+ rm -rf --one-file-system --$/);
    // It did the work (the final rm of the whole tree would have hidden a failure).
    expect(lines[1]).toBe('exit 0');
  });

  it('starts them one by one where there is no xargs, and removes the tree all the same', async () => {
    const root = path.join(work, 'root');
    await bigTree(root);
    const bin = path.join(work, 'bin');
    await mkdir(bin);
    await symlink('/usr/bin/rm', path.join(bin, 'rm'));
    await withPath(bin, () => removeRootfs(root));
    expect(await exists(root)).toBe(false);
  });
});
