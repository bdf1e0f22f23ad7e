import { mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeWorkdir, missingWorkdir } from '../../../../src/builder/run/missing-workdir.js';

let outer: string;
let rootfs: string;

beforeEach(async () => {
  outer = await mkdtemp(path.join(tmpdir(), 'hoist-workdir-'));
  rootfs = path.join(outer, 'rootfs');
  await mkdir(path.join(rootfs, 'usr/src'), { recursive: true });
});

afterEach(async () => {
  await rm(outer, { recursive: true, force: true });
});

describe('missingWorkdir and makeWorkdir: the working directory a step makes', () => {
  it('lists the missing parts, parent first, and makes them 0755 inside the rootfs', async () => {
    const missing = await missingWorkdir(rootfs, '/usr/src/app/deep', undefined);
    expect(missing).toEqual(['/usr/src/app', '/usr/src/app/deep']);
    await makeWorkdir(rootfs, missing);
    expect(((await stat(path.join(rootfs, 'usr/src/app/deep'))).mode & 0o7777).toString(8)).toBe('755');
    expect(await missingWorkdir(rootfs, '/usr/src/app/deep', undefined)).toEqual([]);
  });

  it("keeps a base image's `..` inside the rootfs, as the container resolves it", async () => {
    const missing = await missingWorkdir(rootfs, '/../../../../pwned/x/../y', undefined);
    expect(missing).toEqual(['/pwned', '/pwned/y']);
    await makeWorkdir(rootfs, missing);
    expect(await readdir(outer)).toEqual(['rootfs']);
    expect((await stat(path.join(rootfs, 'pwned/y'))).isDirectory()).toBe(true);
  });

  it('stops at a symlink (the runner resolves it inside the rootfs) and refuses a file', async () => {
    await symlink('/nowhere', path.join(rootfs, 'usr/link'));
    expect(await missingWorkdir(rootfs, '/usr/link/app', undefined)).toEqual([]);
    await writeFile(path.join(rootfs, 'usr/file'), '');
    await expect(missingWorkdir(rootfs, '/usr/file/app', { file: 'Dockerfile', line: 3 } as never)).rejects.toMatchObject({ code: 'RUN_WORKDIR' });
  });
});
