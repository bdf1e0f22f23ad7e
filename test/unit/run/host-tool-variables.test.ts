import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hostToolVariable, unsafePrivateVariable, type ProcessSpec } from '../../../src/run/process-spec.js';
import { withHostToolVariablesInside } from '../../../src/run/step-env.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function rootfs(envAt?: { path: string; mode: number; via?: string }): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'hoist-hostvars-'));
  dirs.push(root);
  await mkdir(path.join(root, 'bin'));
  await mkdir(path.join(root, 'usr/bin'), { recursive: true });
  if (envAt !== undefined) {
    await writeFile(path.join(root, envAt.path), '#!/bin/sh\n');
    await chmod(path.join(root, envAt.path), envAt.mode);
    if (envAt.via !== undefined) await symlink(`/${envAt.path}`, path.join(root, envAt.via));
  }
  return root;
}

const ORDERED = { keepOrder: true };

function spec(root: string, env: Record<string, string>, argv = ['/bin/sh', '-c', 'true']): ProcessSpec {
  return { argv, env, cwd: '/', uid: 0, gid: 0, groups: [], rootfs: root, mounts: [], network: 'default' };
}

describe('hostToolVariable', () => {
  it('names the loader, libc, util-linux and proot variables, and no others', () => {
    for (const name of ['LD_PRELOAD', 'LD_LIBRARY_PATH', 'LD_AUDIT', 'GLIBC_TUNABLES', 'MALLOC_ARENA_MAX', 'TMPDIR', 'LIBMOUNT_DEBUG', 'PROOT_LOADER']) expect(hostToolVariable(name), name).toBeDefined();
    for (const name of ['PATH', 'HOME', 'IFS', 'JAVA_HOME', 'LANG', 'XLD_PRELOAD']) expect(hostToolVariable(name), name).toBeUndefined();
    // Secrets may not take these names either.
    expect(unsafePrivateVariable('LD_PRELOAD')).toBe(hostToolVariable('LD_PRELOAD'));
  });
});

describe('unsafePrivateVariable', () => {
  // A secret goes through the host's sh on its way to the step (spawnStep's umask): a name the shell changes, drops or fails on must be refused.
  it('refuses every name that the host\'s sh or bash would not pass on as it was given', () => {
    const candidates = ['IFS', 'ENV', 'SHELLOPTS', 'BASHOPTS', 'PS1', 'PS2', 'PS4', 'CDPATH', 'PWD', 'OLDPWD', 'SHLVL', '_', 'OPTIND', 'OPTARG', 'OPTERR', 'PPID', 'LINENO', 'MAIL', 'HISTFILE', 'RANDOM', 'SRANDOM', 'SECONDS', 'EPOCHSECONDS', 'EPOCHREALTIME', 'UID', 'EUID', 'GROUPS', 'HOSTNAME', 'BASHPID', 'BASH', 'BASH_VERSION', 'BASH_ARGV0', 'HOME', 'USER', 'TERM', 'TOKEN', 'NPM_TOKEN'];
    const shells = ['/bin/sh', '/bin/bash'].filter((sh) => existsSync(sh));
    expect(shells).toContain('/bin/sh');
    let passed = 0;
    for (const sh of shells) {
      for (const name of candidates) {
        const r = spawnSync(sh, ['-c', 'exec /usr/bin/env'], { env: { [name]: 's3cr3t value' }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
        const kept = r.status === 0 && r.stderr === '' && r.stdout.split('\n').includes(`${name}=s3cr3t value`);
        if (kept) passed += 1;
        else expect(unsafePrivateVariable(name), `${sh} does not pass ${name} on`).toBeDefined();
      }
    }
    // The ordinary names do pass, so the check above has something to tell apart.
    expect(passed).toBeGreaterThan(0);
    for (const name of ['TOKEN', 'NPM_TOKEN', 'HOME']) expect(unsafePrivateVariable(name), name).toBeUndefined();
  });
});

describe('withHostToolVariablesInside', () => {
  it('moves the first of them and every public variable after it onto the image env\'s command line, in order', async () => {
    const root = await rootfs({ path: 'bin/busybox', mode: 0o755, via: 'usr/bin/env' });
    const given: ProcessSpec = { ...spec(root, { PATH: '/bin', LD_PRELOAD: 'libjemalloc.so.2', TOKEN: 's3cret', HOME: '/root', TMPDIR: '/t', A: 'b=c' }), privateEnv: { TOKEN: 's3cret' } };
    const out = await withHostToolVariablesInside(given, ORDERED);
    // What comes before stays in the host tools' environment, and a secret never goes on a command line.
    expect(out.env).toEqual({ PATH: '/bin', TOKEN: 's3cret' });
    expect(out.argv).toEqual(['/usr/bin/env', 'LD_PRELOAD=libjemalloc.so.2', 'HOME=/root', 'TMPDIR=/t', 'A=b=c', '/bin/sh', '-c', 'true']);
    expect(out.argv.join(' ')).not.toContain('s3cret');
  });

  it('uses /bin/env when the image has no /usr/bin/env, or when a mount covers it', async () => {
    const root = await rootfs({ path: 'bin/env', mode: 0o755 });
    expect((await withHostToolVariablesInside(spec(root, { LD_LIBRARY_PATH: '/opt/lib' }), ORDERED)).argv[0]).toBe('/bin/env');
    await writeFile(path.join(root, 'usr/bin/env'), '');
    await chmod(path.join(root, 'usr/bin/env'), 0o755);
    expect((await withHostToolVariablesInside(spec(root, { LD_LIBRARY_PATH: '/opt/lib' }), ORDERED)).argv[0]).toBe('/usr/bin/env');
    const covered = { ...spec(root, { LD_LIBRARY_PATH: '/opt/lib' }), mounts: [{ source: '/tmp', target: '/usr' }] };
    expect((await withHostToolVariablesInside(covered, ORDERED)).argv[0]).toBe('/bin/env');
  });

  it('leaves the spec as it is without such variables, or with only harmless ones where env cannot be used', async () => {
    const withEnv = await rootfs({ path: 'usr/bin/env', mode: 0o755 });
    const plain = spec(withEnv, { PATH: '/bin', HOME: '/root' });
    expect(await withHostToolVariablesInside(plain, ORDERED)).toBe(plain);
    const noEnv = spec(await rootfs(), { TMPDIR: '/t', MALLOC_ARENA_MAX: '2' });
    expect(await withHostToolVariablesInside(noEnv, ORDERED)).toBe(noEnv);
  });

  it('fails the step, saying why and what to do, where env cannot keep a loader variable from the host tools; an empty one names nothing', async () => {
    const withEnv = await rootfs({ path: 'usr/bin/env', mode: 0o750 });
    const cases: [ProcessSpec, string, string][] = [
      [spec(await rootfs(), { LD_PRELOAD: 'x.so' }), 'the image has none', 'install env in the image'],
      [spec(await rootfs({ path: 'usr/bin/env', mode: 0o644 }), { PATH: '/bin', GCONV_PATH: '/g' }), 'may not run /usr/bin/env', 'chmod 755 /usr/bin/env'],
      [spec(withEnv, { LD_PRELOAD: 'x.so' }, ['A=B']), 'the command "A=B"', 'use the shell form'],
      // Not everyone may run it: a non-root user would get EACCES from it.
      [{ ...spec(withEnv, { LD_PRELOAD: 'x.so' }), uid: 1000, gid: 1000 }, 'may not run /usr/bin/env', 'chmod 755'],
      [{ ...spec(withEnv, { PROOT_LOADER: '/x' }), mounts: [{ source: '/tmp', target: '/usr/bin' }] }, 'mount at /usr/bin hides /usr/bin/env', 'does not cover /usr/bin/env'],
    ];
    for (const [s, why, hint] of cases) {
      await expect(withHostToolVariablesInside(s, ORDERED), why).rejects.toMatchObject({ code: 'RUN_HOST_VARIABLE', message: expect.stringContaining(why), hint: expect.stringContaining(hint) });
    }
    const emptied = spec(await rootfs(), { LD_PRELOAD: '', TMPDIR: '/t' });
    expect(await withHostToolVariablesInside(emptied, ORDERED)).toBe(emptied);
  });

  it('moves only the host-tool variables where the order is not kept (proot: the rest stays off its command line)', async () => {
    const root = await rootfs({ path: 'usr/bin/env', mode: 0o755 });
    const out = await withHostToolVariablesInside(spec(root, { PATH: '/bin', LD_LIBRARY_PATH: '/opt/lib', HTTP_PROXY: 'http://u:p@proxy', TMPDIR: '/t' }), { keepOrder: false });
    expect(out.env).toEqual({ PATH: '/bin', HTTP_PROXY: 'http://u:p@proxy' });
    expect(out.argv).toEqual(['/usr/bin/env', 'LD_LIBRARY_PATH=/opt/lib', 'TMPDIR=/t', '/bin/sh', '-c', 'true']);
  });

  it('never resolves the env program outside the rootfs', async () => {
    const root = await rootfs();
    // An absolute link is taken inside the rootfs, where its target does not exist; the host's /usr/bin/env is never used.
    await symlink('/usr/bin/env', path.join(root, 'bin/env'));
    await rm(path.join(root, 'usr/bin'), { recursive: true });
    await symlink('../../../../../../../usr/bin', path.join(root, 'usr/bin'));
    await expect(withHostToolVariablesInside(spec(root, { LD_PRELOAD: 'x.so' }), ORDERED)).rejects.toMatchObject({ code: 'RUN_HOST_VARIABLE' });
  });
});
