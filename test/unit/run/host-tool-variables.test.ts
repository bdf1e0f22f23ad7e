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

describe('withHostToolVariablesInside', () => {
  it('moves them onto the image env\'s command line, after the rest stays in the environment', async () => {
    const root = await rootfs({ path: 'bin/busybox', mode: 0o755, via: 'usr/bin/env' });
    const out = await withHostToolVariablesInside(spec(root, { PATH: '/bin', LD_PRELOAD: 'libjemalloc.so.2', TMPDIR: '/t', A: 'b=c' }));
    expect(out.env).toEqual({ PATH: '/bin', A: 'b=c' });
    expect(out.argv).toEqual(['/usr/bin/env', 'LD_PRELOAD=libjemalloc.so.2', 'TMPDIR=/t', '/bin/sh', '-c', 'true']);
  });

  it('uses /bin/env when the image has no /usr/bin/env', async () => {
    const root = await rootfs({ path: 'bin/env', mode: 0o755 });
    expect((await withHostToolVariablesInside(spec(root, { LD_LIBRARY_PATH: '/opt/lib' }))).argv[0]).toBe('/bin/env');
  });

  it('leaves the spec as it is without such variables, without an env program that runs, or with a command env would misread', async () => {
    const withEnv = await rootfs({ path: 'usr/bin/env', mode: 0o755 });
    const plain = spec(withEnv, { PATH: '/bin', HOME: '/root' });
    expect(await withHostToolVariablesInside(plain)).toBe(plain);
    const misread = spec(withEnv, { LD_PRELOAD: 'x.so' }, ['A=B']);
    expect(await withHostToolVariablesInside(misread)).toBe(misread);
    for (const root of [await rootfs(), await rootfs({ path: 'usr/bin/env', mode: 0o644 })]) {
      const s = spec(root, { LD_PRELOAD: 'x.so' });
      expect(await withHostToolVariablesInside(s)).toBe(s);
    }
  });

  it('never resolves the env program outside the rootfs', async () => {
    const root = await rootfs();
    // An absolute link is taken inside the rootfs, where its target does not exist; the host's /usr/bin/env is never used.
    await symlink('/usr/bin/env', path.join(root, 'bin/env'));
    await rm(path.join(root, 'usr/bin'), { recursive: true });
    await symlink('../../../../../../../usr/bin', path.join(root, 'usr/bin'));
    const s = spec(root, { LD_PRELOAD: 'x.so' });
    expect(await withHostToolVariablesInside(s)).toBe(s);
  });
});
