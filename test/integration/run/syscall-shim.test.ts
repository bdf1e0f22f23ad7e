/**
 * The syscall shim (src/run/syscall-shim.ts): its bytes are what binutils
 * makes of its source, and run on this machine it puts the step under a
 * seccomp filter (no new privileges) and then runs the step with its
 * arguments and environment; faccessat2 and statx then fail with ENOSYS,
 * which glibc answers with faccessat and fstatat.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFile, mkdir, realpath, chmod } from 'node:fs/promises';
import { SYSCALL_SHIM_SOURCE, syscallShim } from '../../../src/run/syscall-shim.js';
import { findHostTools, ProotRunner, type ProcessSpec } from '../../../src/run/index.js';
import { ensureDebianPackages } from '../../helpers/packages.js';

let dir: string;
let shim: string;

beforeAll(async () => {
  await ensureDebianPackages(['binutils', 'strace', 'proot']);
  dir = await mkdtemp(path.join(tmpdir(), 'hoist-shim-'));
  shim = path.join(dir, 'shim');
  await writeFile(shim, syscallShim('x64') as Buffer, { mode: 0o755 });
}, 600_000);

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe.runIf(process.arch === 'x64')('the syscall shim for proot before 5.4', () => {
  it('is what GNU as and ld make of its source', async () => {
    await writeFile(path.join(dir, 'shim.s'), SYSCALL_SHIM_SOURCE);
    execFileSync('as', ['-o', path.join(dir, 'shim.o'), path.join(dir, 'shim.s')]);
    execFileSync('ld', ['-static', '-n', '--build-id=none', '-s', '-o', path.join(dir, 'built'), path.join(dir, 'shim.o')]);
    expect((await readFile(path.join(dir, 'built'))).equals(syscallShim('x64') as Buffer)).toBe(true);
  });

  it('runs the step with its arguments and environment, under a seccomp filter and no new privileges', () => {
    const r = spawnSync(shim, ['/bin/sh', '-c', 'echo "$1 $GREETING"; grep -E "^(NoNewPrivs|Seccomp):" /proc/self/status', 'sh', 'arg'], { encoding: 'utf8', env: { GREETING: 'hello' } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('arg hello\nNoNewPrivs:\t1\nSeccomp:\t2\n');
  });

  it('makes faccessat2 and statx fail with ENOSYS, and glibc falls back: access checks and stat still work', () => {
    const r = spawnSync('strace', ['-f', '-e', 'trace=faccessat2,statx', shim, '/bin/sh', '-c', 'test -r /etc/passwd && stat -c %n /etc/passwd'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('/etc/passwd\n');
    expect(r.stderr).toMatch(/faccessat2\(.*\) = -1 ENOSYS/);
    expect(r.stderr).not.toMatch(/(faccessat2|statx)\(.*\) = 0/);
  });

  it('exits 127 when the program cannot be run, and is only for x86-64', () => {
    expect(spawnSync(shim, ['/nonexistent']).status).toBe(127);
    expect(spawnSync(shim, []).status).toBe(127);
    expect(syscallShim('arm64')).toBeUndefined();
  });
});

/** A rootfs with coreutils' stat (glibc, dynamically linked: it calls statx) and a file the host does not have. */
async function glibcRootfs(root: string): Promise<void> {
  const files = new Set(['/usr/bin/stat', '/bin/sh']);
  for (const p of [...files]) for (const m of execFileSync('ldd', [p], { encoding: 'utf8' }).matchAll(/(\/\S+)/g)) files.add(m[1] as string);
  for (const f of files) {
    await mkdir(path.join(root, path.dirname(f)), { recursive: true });
    await copyFile(await realpath(f), path.join(root, f));
    await chmod(path.join(root, f), 0o755);
  }
  await mkdir(path.join(root, 'srv/only-in-the-image'), { recursive: true });
  await writeFile(path.join(root, 'srv/only-in-the-image/key'), 'k\n', { mode: 0o644 });
}

describe.runIf(process.arch === 'x64')('proot 5.1 steps through the shim', () => {
  it('see the image\'s files through statx (coreutils stat), which proot alone looks up on the host', async () => {
    const root = path.join(dir, 'rootfs');
    await glibcRootfs(root);
    const check = ['/usr/bin/stat', '-c', '%n', '/srv/only-in-the-image/key'];
    // proot 5.1 alone: statx goes to the kernel with the image's path, which this machine does not have.
    const alone = spawnSync('proot', ['-r', root, '-w', '/', ...check], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
    const version = /\b(\d+)\.(\d+)/.exec(spawnSync('proot', ['--version'], { encoding: 'utf8' }).stdout) ?? [];
    if (Number(version[1]) === 5 && Number(version[2]) < 3) expect(alone.status, alone.stdout).toBe(1);
    const spec: ProcessSpec = { argv: ['stat', '-c', '%n', '/srv/only-in-the-image/key'], env: { PATH: '/usr/bin:/bin' }, cwd: '/', uid: 0, gid: 0, groups: [], rootfs: root, mounts: [], network: 'default' };
    const runner = new ProotRunner({ tools: findHostTools(process.env.PATH), tmpDir: dir, killOnExit: false, shimSyscalls: true });
    const chunks: Buffer[] = [];
    const r = await runner.run(spec, { stdout: (c) => chunks.push(c), stderr: (c) => chunks.push(c) });
    expect(r.exitCode, Buffer.concat(chunks).toString()).toBe(0);
    expect(Buffer.concat(chunks).toString()).toBe('/srv/only-in-the-image/key\n');
    // Nothing of the shim is left in the rootfs.
    expect(spawnSync('ls', ['-A', root], { encoding: 'utf8' }).stdout.split('\n').filter((n) => n.includes('hoist'))).toEqual([]);
  });
});
