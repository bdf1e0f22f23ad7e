import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveRunUser } from '../../../src/builder/run/run-user.js';
import { tempDir } from '../../helpers/build.js';

let rootfs: string;
let empty: string;

beforeAll(async () => {
  rootfs = tempDir('hoist-runuser-');
  await mkdir(path.join(rootfs, 'etc'));
  await writeFile(path.join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\n');
  await writeFile(path.join(rootfs, 'etc/group'), 'root:x:0:\nstaff:x:50:app,other\napp:x:1001:\nwheel:x:10:app\n');
  empty = tempDir('hoist-runuser-empty-');
});

describe('resolveRunUser', () => {
  it('no USER is root, with or without a passwd file', async () => {
    expect(await resolveRunUser(undefined, rootfs)).toEqual({ uid: 0, gid: 0, groups: [], home: '/root' });
    expect(await resolveRunUser('', empty)).toEqual({ uid: 0, gid: 0, groups: [], home: '/root' });
  });

  it('a name: its passwd ids and home, and the groups that list it', async () => {
    expect(await resolveRunUser('app', rootfs)).toEqual({ uid: 1000, gid: 1001, groups: [50, 10], home: '/home/app' });
  });

  it('a uid passwd lists resolves like its name; one it does not list gets gid 0 and home /', async () => {
    expect(await resolveRunUser('1000', rootfs)).toMatchObject({ uid: 1000, gid: 1001, home: '/home/app' });
    expect(await resolveRunUser('4242', rootfs)).toEqual({ uid: 4242, gid: 0, groups: [], home: '/' });
  });

  it('user:group sets the group and no supplementary groups', async () => {
    expect(await resolveRunUser('app:staff', rootfs)).toEqual({ uid: 1000, gid: 50, groups: [], home: '/home/app' });
    expect(await resolveRunUser('1000:77', rootfs)).toMatchObject({ uid: 1000, gid: 77, groups: [] });
  });

  it('an unknown name is UNKNOWN_USER, for users and groups', async () => {
    await expect(resolveRunUser('ghost', rootfs)).rejects.toMatchObject({ code: 'UNKNOWN_USER' });
    await expect(resolveRunUser('app:ghosts', rootfs)).rejects.toMatchObject({ code: 'UNKNOWN_USER' });
    await expect(resolveRunUser('app', empty)).rejects.toMatchObject({ code: 'UNKNOWN_USER' });
  });
});
