/**
 * The syscall shim (src/run/syscall-shim.ts): its bytes are what binutils
 * makes of its source, and run on this machine it puts the step under a
 * seccomp filter (no new privileges) and then runs the step with its
 * arguments and environment; faccessat2, statx, clone3 and io_uring_setup
 * then fail with ENOSYS, which glibc answers with faccessat, fstatat and
 * clone, and libuv (Node.js) with its thread pool.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFile, mkdir, realpath, chmod } from 'node:fs/promises';
import { SYSCALL_SHIM_SOURCE, prootSharesHeapAcrossExec, syscallShim } from '../../../src/run/syscall-shim.js';
import { findHostTools, ProotRunner, type ProcessSpec } from '../../../src/run/index.js';
import { ensureDebianPackages } from '../../helpers/packages.js';

let dir: string;
let shim: string;

beforeAll(async () => {
  await ensureDebianPackages(['binutils', 'strace', 'proot', 'gcc', 'libc6-dev', 'locales', 'busybox-static']);
  dir = await mkdtemp(path.join(tmpdir(), 'hoist-shim-'));
  shim = path.join(dir, 'shim');
  await writeFile(shim, syscallShim('x64') as Buffer, { mode: 0o755 });
}, 600_000);

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe.runIf(process.arch === 'x64')('the syscall shim for proot', () => {
  it('is what GNU as and ld make of its source, with and without KERNEL_HEAP', async () => {
    await writeFile(path.join(dir, 'shim.s'), `${SYSCALL_SHIM_SOURCE}\n`);
    for (const kernelHeap of [false, true]) {
      execFileSync('as', [...(kernelHeap ? ['--defsym', 'KERNEL_HEAP=1'] : []), '-o', path.join(dir, 'shim.o'), path.join(dir, 'shim.s')]);
      execFileSync('ld', ['-static', '-n', '--build-id=none', '-s', '-o', path.join(dir, 'built'), path.join(dir, 'shim.o')]);
      expect((await readFile(path.join(dir, 'built'))).equals(syscallShim('x64', { kernelHeap }) as Buffer), `kernelHeap ${kernelHeap}`).toBe(true);
    }
  });

  it('with kernelHeap, refuses with ENOMEM exactly the mmap that proot before 5.2 makes of a first brk() from above 4 GiB, and nothing like it', async () => {
    const src = path.join(dir, 'maps.c');
    await writeFile(
      src,
      `#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>
static void try(const char *what, void *addr, size_t len, int prot, int flags, int fd) {
  void *p = mmap(addr, len, prot, flags, fd, 0);
  printf("%s %s\\n", what, p == MAP_FAILED ? (errno == ENOMEM ? "ENOMEM" : "failed") : "mapped");
  if (p != MAP_FAILED) munmap(p, len);
}
int main(void) {
  size_t heap = 16 * 1024 * 1024 + 4096;
  int rw = PROT_READ | PROT_WRITE, anon = MAP_PRIVATE | MAP_ANONYMOUS;
  try("proot-heap", NULL, heap, rw, anon, -1);
  try("16MiB", NULL, heap - 4096, rw, anon, -1);
  try("read-only", NULL, heap, PROT_READ, anon, -1);
  try("stack", NULL, heap, rw, anon | MAP_STACK, -1);
  try("shared", NULL, heap, rw, MAP_SHARED | MAP_ANONYMOUS, -1);
  try("fd-0", NULL, heap, rw, anon, 0);
  try("hint-low", (void *)0x10000000, heap, rw, anon, -1);
  try("hint-high", (void *)0x200000000000, heap, rw, anon, -1);
  return 0;
}
`,
    );
    const maps = path.join(dir, 'maps');
    execFileSync('gcc', ['-O1', '-o', maps, src]);
    // Static and not PIE, its calls come from below 4 GiB, as busybox-static's brk does: proot keeps that program's heap.
    const lowMaps = path.join(dir, 'maps-low');
    execFileSync('gcc', ['-O1', '-static', '-no-pie', '-o', lowMaps, src]);
    const heapShim = path.join(dir, 'shim-kernel-heap');
    await writeFile(heapShim, syscallShim('x64', { kernelHeap: true }) as Buffer, { mode: 0o755 });
    const rest = '16MiB mapped\nread-only mapped\nstack mapped\nshared mapped\nfd-0 mapped\nhint-low mapped\nhint-high mapped\n';
    expect(spawnSync(heapShim, [maps], { encoding: 'utf8' }).stdout).toBe(`proot-heap ENOMEM\n${rest}`);
    expect(spawnSync(heapShim, [lowMaps], { encoding: 'utf8' }).stdout).toBe(`proot-heap mapped\n${rest}`);
    expect(spawnSync(shim, [maps], { encoding: 'utf8' }).stdout).toBe(`proot-heap mapped\n${rest}`);
    // The four calls of the plain shim are refused all the same.
    const r = spawnSync('strace', ['-f', '-e', 'trace=statx', heapShim, '/usr/bin/stat', 'stat', '-c', '%n', '/etc/passwd'], { encoding: 'utf8' });
    expect([r.status, r.stdout]).toEqual([0, '/etc/passwd\n']);
    expect(r.stderr).toMatch(/statx\(.*\) = -1 ENOSYS/);
  });

  it('runs the program at the path it is given, with the argv that follows, argv[0] included (without one, the path is argv[0])', () => {
    expect(spawnSync(shim, ['/bin/sh', 'named-sh', '-c', 'echo "$0 $1"', 'zero', 'one'], { encoding: 'utf8' }).stdout).toBe('zero one\n');
    expect(spawnSync(shim, ['/bin/busybox', 'echo', 'as', 'echo'], { encoding: 'utf8' }).stdout).toBe('as echo\n');
    expect(spawnSync(shim, ['/bin/busybox', 'basename', '/x/y'], { encoding: 'utf8' }).stdout).toBe('y\n');
    expect(spawnSync(shim, ['/usr/bin/basename'], { encoding: 'utf8' }).stderr).toMatch(/^\/usr\/bin\/basename: missing operand/);
  });

  it('runs the step with its arguments and environment, under a seccomp filter and no new privileges', () => {
    const r = spawnSync(shim, ['/bin/sh', 'sh', '-c', 'echo "$1 $GREETING"; grep -E "^(NoNewPrivs|Seccomp):" /proc/self/status', 'sh', 'arg'], { encoding: 'utf8', env: { GREETING: 'hello' } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('arg hello\nNoNewPrivs:\t1\nSeccomp:\t2\n');
  });

  it('makes faccessat2 and statx fail with ENOSYS, and glibc falls back: access checks and stat still work', () => {
    const r = spawnSync('strace', ['-f', '-e', 'trace=faccessat2,statx', shim, '/bin/sh', 'sh', '-c', 'test -r /etc/passwd && stat -c %n /etc/passwd'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('/etc/passwd\n');
    expect(r.stderr).toMatch(/faccessat2\(.*\) = -1 ENOSYS/);
    expect(r.stderr).not.toMatch(/(faccessat2|statx)\(.*\) = 0/);
  });

  it('makes clone3 and io_uring_setup fail with ENOSYS, and threads and file reads still work (Node.js: glibc uses clone, libuv its thread pool)', () => {
    // This test's own Node.js, with libuv's io_uring asked for (Node 20 has it off by default).
    const script = "require('fs').readFile('/etc/passwd', 'utf8', (e, d) => console.log(e ? e.code : d.split(':')[0]))";
    const r = spawnSync('strace', ['-f', '-e', 'trace=clone3,clone,io_uring_setup', shim, process.execPath, 'node', '-e', script], { encoding: 'utf8', env: { UV_USE_IO_URING: '1' } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('root\n');
    // strace may split a call's line where threads interleave ("<unfinished ...>", "<... clone resumed>").
    expect(r.stderr).toMatch(/clone3.* = -1 ENOSYS/);
    expect(r.stderr).toMatch(/io_uring_setup.* = -1 ENOSYS/);
    expect(r.stderr).toMatch(/clone\([^\n]*CLONE_THREAD/);
    expect(r.stderr).not.toMatch(/(clone3|io_uring_setup)(\(| resumed>).* = \d+/);
  });

  it('says why a program cannot be run, as setpriv does, and exits 127 (not found) or 126; it is only for x86-64', async () => {
    const script = path.join(dir, 'no-shebang');
    await writeFile(script, 'echo hi\n', { mode: 0o755 });
    const interp = path.join(dir, 'bad-interpreter');
    await writeFile(interp, '#!/nonexistent/sh\necho hi\n', { mode: 0o755 });
    const cases: [string[], number, string][] = [
      [['/nonexistent'], 127, 'hoist-syscall-shim: failed to execute /nonexistent: No such file or directory\n'],
      [[interp], 127, `hoist-syscall-shim: failed to execute ${interp}: No such file or directory\n`],
      [[script], 126, `hoist-syscall-shim: failed to execute ${script}: Exec format error\n`],
      [['/etc/passwd'], 126, 'hoist-syscall-shim: failed to execute /etc/passwd: Permission denied\n'],
      [[], 126, 'hoist-syscall-shim: failed to execute : errno 14\n'],
    ];
    for (const [args, status, stderr] of cases) {
      const r = spawnSync(shim, args, { encoding: 'utf8' });
      expect([r.status, r.stderr, r.stdout]).toEqual([status, stderr, '']);
    }
    // setpriv, with which the chroot runner starts a step (as root), says the same of the same mistake.
    if (process.getuid?.() === 0) expect(spawnSync('setpriv', ['--reuid=0', '/nonexistent'], { encoding: 'utf8' }).stderr).toBe('setpriv: failed to execute /nonexistent: No such file or directory\n');
  });

  it('runs the step without its filter, saying so, where seccomp or no_new_privs is refused', () => {
    for (const call of ['seccomp', 'prctl']) {
      // strace makes the call fail as a kernel or sandbox without seccomp filters would.
      const r = spawnSync('strace', ['-o', '/dev/null', '-e', `inject=${call}:error=EINVAL`, shim, '/bin/sh', 'sh', '-c', 'echo ran; grep -E "^Seccomp:" /proc/self/status'], { encoding: 'utf8' });
      expect([r.status, r.stdout, r.stderr], call).toEqual([0, 'ran\nSeccomp:\t0\n', 'hoist-syscall-shim: cannot install its seccomp filter, so the step runs without it: errno 22\n']);
    }
    expect(syscallShim('arm64')).toBeUndefined();
  });
});

/** A rootfs with these programs of this machine and the libraries they link (glibc), at the same paths. */
async function rootfsWith(root: string, programs: string[]): Promise<void> {
  const files = new Set(programs);
  for (const p of [...files]) for (const m of execFileSync('ldd', [p], { encoding: 'utf8' }).matchAll(/(\/\S+)/g)) files.add(m[1] as string);
  for (const f of files) {
    await mkdir(path.join(root, path.dirname(f)), { recursive: true });
    await copyFile(await realpath(f), path.join(root, f));
    await chmod(path.join(root, f), 0o755);
  }
}

/** A rootfs with coreutils' stat (glibc, dynamically linked: it calls statx) and a file the host does not have. */
async function glibcRootfs(root: string): Promise<void> {
  await rootfsWith(root, ['/usr/bin/stat', '/bin/sh']);
  await mkdir(path.join(root, 'srv/only-in-the-image'), { recursive: true });
  await writeFile(path.join(root, 'srv/only-in-the-image/key'), 'k\n', { mode: 0o644 });
}

/** A step as root in `root`, at /, with PATH /usr/bin:/bin and what `env` adds. */
function stepIn(root: string, argv: string[], env: Record<string, string> = {}): ProcessSpec {
  return { argv, env: { PATH: '/usr/bin:/bin', ...env }, cwd: '/', uid: 0, gid: 0, groups: [], rootfs: root, mounts: [], network: 'default' };
}

/** The proot runner, told this `version` of proot (none: not told). */
function prootRunner(version?: string): ProotRunner {
  return new ProotRunner({ tools: findHostTools(process.env.PATH), tmpDir: dir, killOnExit: false, ...(version !== undefined ? { version } : {}) });
}

/** Runs `spec`; its stdout and stderr together. */
async function runStep(runner: ProotRunner, spec: ProcessSpec): Promise<{ exitCode: number; output: string }> {
  const chunks: Buffer[] = [];
  const r = await runner.run(spec, { stdout: (c) => chunks.push(c), stderr: (c) => chunks.push(c) });
  return { exitCode: r.exitCode, output: Buffer.concat(chunks).toString() };
}

/** This machine's proot version, as `proot --version` prints it. */
function installedProotVersion(): string | undefined {
  return /\b(\d+\.\d+(?:\.\d+)?)\b/.exec(spawnSync('proot', ['--version'], { encoding: 'utf8' }).stdout)?.[1];
}

describe.runIf(process.arch === 'x64')('proot steps through the shim', () => {
  it('see the image\'s files through statx (coreutils stat), which proot alone looks up on the host', async () => {
    const root = path.join(dir, 'rootfs');
    await glibcRootfs(root);
    const check = ['/usr/bin/stat', '-c', '%n', '/srv/only-in-the-image/key'];
    // proot 5.1 alone: statx goes to the kernel with the image's path, which this machine does not have.
    const alone = spawnSync('proot', ['-r', root, '-w', '/', ...check], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
    const [major, minor] = (installedProotVersion() ?? '').split('.').map(Number);
    if (major === 5 && (minor ?? 0) < 3) expect(alone.status, alone.stdout).toBe(1);
    const r = await runStep(prootRunner(), stepIn(root, ['stat', '-c', '%n', '/srv/only-in-the-image/key']));
    expect(r.exitCode, r.output).toBe(0);
    expect(r.output).toBe('/srv/only-in-the-image/key\n');
    // Nothing of the shim is left in the rootfs.
    expect(spawnSync('ls', ['-A', root], { encoding: 'utf8' }).stdout.split('\n').filter((n) => n.includes('hoist'))).toEqual([]);
  });

  it('give the program the argv[0] the step names, as Docker does (exec form: sh, not the path PATH found)', async () => {
    const root = path.join(dir, 'argv0-rootfs');
    await glibcRootfs(root);
    const r = await runStep(prootRunner(), stepIn(root, ['sh', '-c', 'echo "$0"']));
    expect([r.exitCode, r.output]).toEqual([0, 'sh\n']);
  });

  it('run a threaded glibc program (Node.js) whose threads work on paths: 2,000 mkdirs from libuv\'s pool, and io_uring reads, see the image', async () => {
    // proot 5.1 copies a clone3 thread's view of the process: once the heap outgrows it, the thread's calls fail with EFAULT (npm ci). io_uring bypasses proot.
    const root = path.join(dir, 'node-rootfs');
    await rootfsWith(root, [process.execPath]);
    await mkdir(path.join(root, 'etc'), { recursive: true });
    await writeFile(path.join(root, 'etc/only-in-the-image'), 'image\n', { mode: 0o644 });
    // Made where only the image has a parent for them: a call that bypassed proot fails on this machine instead of writing to it.
    await mkdir(path.join(root, 'only-in-the-image-dir'));
    expect(existsSync('/only-in-the-image-dir')).toBe(false);
    await writeFile(
      path.join(root, 'threads.js'),
      `const fs = require('fs');
let failed = 0, first = '';
const jobs = [];
for (let i = 0; i < 2000; i++) jobs.push(fs.promises.mkdir('/only-in-the-image-dir/d' + i).catch((e) => { failed++; first = first || e.message; }));
Promise.all(jobs).then(() => fs.readFile('/etc/only-in-the-image', 'utf8', (e, d) => console.log('failed ' + failed + ' ' + first + '; read ' + (e ? e.code : d.trim()))));
`,
      { mode: 0o644 },
    );
    const r = await runStep(prootRunner(), stepIn(root, [process.execPath, '/threads.js'], { UV_USE_IO_URING: '1' }));
    expect(r.exitCode, r.output).toBe(0);
    expect(r.output).toBe('failed 0 ; read image\n');
    expect((await readdir(path.join(root, 'only-in-the-image-dir'))).length).toBe(2000);
  }, 120_000);
});

describe.runIf(process.arch === 'x64')('proot steps whose program starts another with posix_spawn and then grows its heap', () => {
  /**
   * localedef reads the gzipped charmap through popen("gzip -dc") (posix_spawn: clone with
   * CLONE_VM once clone3 fails), then allocates as it parses: under proot before 5.2 the
   * child's execve cleared the heap record it shared with localedef, whose next brk() landed
   * in gzip's heap (SIGSEGV; Debian's `locale-gen` and the official postgres image's localedef).
   */
  async function localedefRootfs(root: string): Promise<void> {
    await rootfsWith(root, ['/usr/bin/localedef', '/usr/bin/gzip', '/bin/sh']);
    await mkdir(path.join(root, 'usr/share/i18n/charmaps'), { recursive: true });
    await copyFile('/usr/share/i18n/charmaps/UTF-8.gz', path.join(root, 'usr/share/i18n/charmaps/UTF-8.gz'));
    await mkdir(path.join(root, 'usr/share/i18n/locales'), { recursive: true });
    await writeFile(path.join(root, 'usr/share/i18n/locales/tiny'), 'LC_IDENTIFICATION\ntitle "tiny"\nEND LC_IDENTIFICATION\n');
    await mkdir(path.join(root, 'out'));
  }

  // -c: write the locale although it defines one category only (localedef still exits 1 for the warnings it prints)
  const localedef = (root: string): ProcessSpec =>
    stepIn(root, ['/bin/sh', '-c', 'localedef -c -i tiny -f UTF-8 /out/tiny 2>/dev/null; echo "localedef exited $?"; test -s /out/tiny/LC_IDENTIFICATION && echo written']);

  it('run to the end under this machine\'s proot, whatever its version', async () => {
    const root = path.join(dir, 'localedef-rootfs');
    await localedefRootfs(root);
    const version = installedProotVersion();
    const r = await runStep(prootRunner(version), localedef(root));
    expect(r).toEqual({ exitCode: 0, output: 'localedef exited 1\nwritten\n' });
    if (version !== undefined && prootSharesHeapAcrossExec(version)) {
      // The same step through the plain shim (as for a proot that keeps the heaps apart) dies as it did before.
      await rm(path.join(root, 'out/tiny'), { recursive: true, force: true });
      const died = await runStep(prootRunner('5.4.0'), localedef(root));
      expect(died.output).toMatch(/terminated with signal 11\n/);
      expect(died.output).toMatch(/^localedef exited 139$/m);
    }
  }, 120_000);

  it('leave a static, non-PIE program (busybox-static) in the same image its heap: its own data, below 16 MiB, stays readable to proot', async () => {
    // Were its first brk refused too, proot would answer EFAULT for its buffers until the kernel granted one: "ls: can't open '/': Bad address".
    const root = path.join(dir, 'busybox-in-glibc-rootfs');
    await rootfsWith(root, ['/bin/sh']);
    await copyFile('/bin/busybox', path.join(root, 'bin/busybox'));
    await chmod(path.join(root, 'bin/busybox'), 0o755);
    await mkdir(path.join(root, 'out'));
    const spec = stepIn(root, ['/bin/busybox', 'sh', '-c', 'busybox mkdir -p /out/d/e && busybox rm -r /out/d && busybox ls -d /out /bin']);
    expect(await runStep(prootRunner('5.1.0'), spec)).toEqual({ exitCode: 0, output: '/bin\n/out\n' });
  }, 120_000);

  it('leave the heap to proot where it keeps a child\'s apart (5.2 and later), and to the kernel before or where the version is unknown', () => {
    expect(['5.1.0', '5.1', '4.9', 'x', undefined].map((v) => prootSharesHeapAcrossExec(v))).toEqual([true, true, true, true, true]);
    expect(['5.2.0', '5.2.0-alpha', '5.4.0', '6.0'].map((v) => prootSharesHeapAcrossExec(v))).toEqual([false, false, false, false]);
  });
});
