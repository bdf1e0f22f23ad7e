/**
 * Owners put on disk between steps (a user namespace's storeOwners) move
 * ctimes and nothing else of the image: told to the walk, they are not the
 * next step's changes; not told, they would be (ctime alone marks a file).
 */
import { chmod, link, lstat, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WalkStepSnapshotter } from '../../../../snapshot/walk/index.js';
import { withTempDir } from '../fixtures.js';

async function tree(root: string): Promise<void> {
  await mkdir(join(root, 'home/app'), { recursive: true });
  await writeFile(join(root, 'home/app/.profile'), 'profile\n');
  await link(join(root, 'home/app/.profile'), join(root, 'home/app/.profile-link'));
  await writeFile(join(root, 'home/app/other'), 'other\n');
}

/** Moves ctime (a chmod to the same mode), as chown to the image's owner does. */
async function touchCtime(file: string): Promise<number> {
  const { mode } = await lstat(file);
  await new Promise((r) => setTimeout(r, 30));
  await chmod(file, mode & 0o7777);
  return (await lstat(file)).ctimeMs;
}

async function changedPaths(snapshotter: WalkStepSnapshotter): Promise<string[]> {
  return (await snapshotter.changes({})).map((e) => e.path);
}

/** A captured tree whose .profile then had its ctime moved; the walk told so when `tell`. */
async function afterMove(root: string, tell: boolean): Promise<WalkStepSnapshotter> {
  await tree(root);
  const snapshotter = new WalkStepSnapshotter(root);
  await snapshotter.beforeStep({});
  const ctimeMs = await touchCtime(join(root, 'home/app/.profile'));
  if (tell) await snapshotter.ctimesMoved(new Map([['home/app/.profile', ctimeMs]]));
  return snapshotter;
}

describe('walk snapshotter: ctimes moved outside a step', () => {
  it('are not changes of the next step, for every name of a hard link, while a real change still is', async () => {
    await withTempDir(async (root) => {
      const snapshotter = await afterMove(root, true);
      await writeFile(join(root, 'home/app/other'), 'changed\n');
      const paths = await changedPaths(snapshotter);
      expect(paths.filter((p) => p.includes('.profile'))).toEqual([]);
      expect(paths).toContain('home/app/other');
    });
  });

  it('are changes when the walk is not told (what the test above guards against)', async () => {
    await withTempDir(async (root) => {
      const snapshotter = await afterMove(root, false);
      const paths = await changedPaths(snapshotter);
      expect(paths.filter((p) => p.includes('.profile')).sort()).toEqual(['home/app/.profile', 'home/app/.profile-link']);
    });
  });

  it('a change in the same step after the move is still seen', async () => {
    await withTempDir(async (root) => {
      const snapshotter = await afterMove(root, true);
      await writeFile(join(root, 'home/app/.profile'), 'PROFILE\n');
      expect(await changedPaths(snapshotter)).toContain('home/app/.profile');
    });
  });
});
