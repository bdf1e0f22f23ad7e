/**
 * Which programs a step would run to set owners that fakeroot cannot see,
 * found in a rootfs on disk made of this machine's real programs:
 * busybox-static's busybox (static), coreutils' chown and dash (dynamic).
 * Names go through the step's PATH and cwd inside the rootfs, links are
 * followed inside it and never out of it.
 */
import { chmod, copyFile, mkdir, mkdtemp, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unrecordablePrograms } from '../../../../src/builder/run/owner-programs.js';
import { ensureDebianPackages } from '../../../helpers/packages.js';

let work: string;

async function place(root: string, file: string, from: string | Buffer, mode = 0o755): Promise<void> {
  await mkdir(path.join(root, path.dirname(file)), { recursive: true });
  if (typeof from === 'string') await copyFile(await realpath(from), path.join(root, file));
  else await writeFile(path.join(root, file), from);
  await chmod(path.join(root, file), mode);
}

async function link(root: string, file: string, target: string): Promise<void> {
  await mkdir(path.join(root, path.dirname(file)), { recursive: true });
  await symlink(target, path.join(root, file));
}

/** dash as /bin/sh, coreutils' chown in /usr/bin, busybox-static's busybox in /bin. */
async function glibcRootfs(name: string): Promise<string> {
  const root = path.join(work, name);
  await place(root, 'bin/sh', '/bin/dash');
  await place(root, 'usr/bin/chown', '/bin/chown');
  await place(root, 'bin/busybox', '/bin/busybox');
  return root;
}

const sh = (text: string): string[] => ['/bin/sh', '-c', text];
const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

beforeAll(async () => {
  await ensureDebianPackages(['busybox-static', 'dash', 'coreutils']);
  work = await mkdtemp(path.join(tmpdir(), 'hoist-owner-programs-'));
}, 15 * 60_000);

afterAll(async () => {
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe('unrecordablePrograms', () => {
  it('names a static busybox called by its path or through PATH, and passes coreutils\' chown', async () => {
    const rootfs = await glibcRootfs('plain');
    expect(await unrecordablePrograms({ rootfs, argv: sh('touch /f && /bin/busybox chown 1000:1000 /f'), path: PATH })).toEqual([
      { named: '/bin/busybox', at: '/bin/busybox', file: '/bin/busybox', why: 'static' },
    ]);
    expect(await unrecordablePrograms({ rootfs, argv: ['busybox', 'chgrp', '5', '/f'], path: PATH })).toEqual([{ named: 'busybox', at: '/bin/busybox', file: '/bin/busybox', why: 'static' }]);
    expect(await unrecordablePrograms({ rootfs, argv: sh('touch /f && chown 1000:1000 /f && /usr/bin/chown 1 /f'), path: PATH })).toEqual([]);
    // busybox used for something else, chown from coreutils.
    expect(await unrecordablePrograms({ rootfs, argv: sh('busybox wget -O /f http://x/ && chown 1 /f'), path: PATH })).toEqual([]);
    // A command the image does not have (yet) is nothing to name.
    expect(await unrecordablePrograms({ rootfs, argv: sh('useradd app'), path: PATH })).toEqual([]);
  });

  it('finds chown as the step\'s PATH does: a link to busybox earlier in PATH wins, and only in that PATH', async () => {
    const rootfs = await glibcRootfs('linked');
    await link(rootfs, 'usr/local/bin/chown', '/bin/busybox');
    expect(await unrecordablePrograms({ rootfs, argv: sh('chown -R 1000:1000 /srv'), path: PATH })).toEqual([
      { named: 'chown', at: '/usr/local/bin/chown', file: '/bin/busybox', why: 'static' },
    ]);
    expect(await unrecordablePrograms({ rootfs, argv: sh('chown -R 1000:1000 /srv'), path: '/usr/bin:/bin' })).toEqual([]);
    // No PATH in the step: the shell's default, which has /usr/local/bin.
    expect(await unrecordablePrograms({ rootfs, argv: sh('find /srv -exec chown 1 {} +') })).toEqual([{ named: 'chown', at: '/usr/local/bin/chown', file: '/bin/busybox', why: 'static' }]);
  });

  it('resolves a relative path from the step\'s working directory', async () => {
    const rootfs = await glibcRootfs('relative');
    await place(rootfs, 'work/tools/chown', '/bin/busybox');
    expect(await unrecordablePrograms({ rootfs, argv: sh('./tools/chown 1 /f'), path: PATH, cwd: '/work' })).toEqual([
      { named: './tools/chown', at: '/work/tools/chown', file: '/work/tools/chown', why: 'static' },
    ]);
  });

  it('follows links inside the rootfs only: a link climbing out of it lands on the rootfs\'s own file', async () => {
    const rootfs = path.join(work, 'escape');
    await place(rootfs, 'bin/sh', '/bin/dash');
    // The rootfs's busybox is a script here; the host's /bin/busybox is static.
    await place(rootfs, 'bin/busybox', Buffer.from('#!/bin/sh\necho not busybox\n'));
    await link(rootfs, 'usr/local/bin/chown', '../../../../../../../../../bin/busybox');
    await link(rootfs, 'usr/local/bin/chgrp', '/../../bin/busybox');
    expect(await unrecordablePrograms({ rootfs, argv: sh('chown 1 /f; chgrp 1 /f; /bin/busybox chown 1 /f'), path: PATH })).toEqual([]);
  });

  it('names the shell when it is a static busybox, which runs its chown applet whatever PATH finds', async () => {
    const rootfs = path.join(work, 'busybox-shell');
    await place(rootfs, 'bin/busybox', '/bin/busybox');
    await link(rootfs, 'bin/sh', 'busybox');
    await place(rootfs, 'usr/bin/chown', '/bin/chown');
    expect(await unrecordablePrograms({ rootfs, argv: sh('chown 1000:1000 /f'), path: PATH })).toEqual([{ named: '/bin/sh', at: '/bin/sh', file: '/bin/busybox', why: 'shell' }]);

    // A static shell that is no busybox runs /usr/bin/chown, which fakeroot sees.
    const other = path.join(work, 'static-shell');
    // The ELF and program headers of busybox, without its code: static, and nothing of busybox in it.
    await place(other, 'bin/sh', (await readFile('/bin/busybox')).subarray(0, 4096));
    await place(other, 'usr/bin/chown', '/bin/chown');
    expect(await unrecordablePrograms({ rootfs: other, argv: sh('chown 1000:1000 /f'), path: PATH })).toEqual([]);
  });

  it('names a program whose loader is musl\'s, which does not read glibc\'s ld.so.preload', async () => {
    const rootfs = await glibcRootfs('musl');
    const chown = await readFile(await realpath('/bin/chown'));
    const glibcLoader = /\/lib64\/ld-linux-x86-64\.so\.2|\/lib\/ld-linux-aarch64\.so\.1/.exec(chown.toString('latin1'));
    expect(glibcLoader).not.toBeNull();
    const at = (glibcLoader as RegExpExecArray).index;
    const musl = Buffer.alloc((glibcLoader as RegExpExecArray)[0].length);
    musl.write('/lib/ld-musl-x86_64.so.1');
    musl.copy(chown, at);
    await place(rootfs, 'usr/local/bin/chown', chown);
    expect(await unrecordablePrograms({ rootfs, argv: sh('chown 1 /f'), path: PATH })).toEqual([
      { named: 'chown', at: '/usr/local/bin/chown', file: '/usr/local/bin/chown', why: 'other-libc', interpreter: '/lib/ld-musl-x86_64.so.1' },
    ]);
  });
});
