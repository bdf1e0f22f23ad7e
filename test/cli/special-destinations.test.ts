/**
 * Outputs into special files (issue 11, "outputs replace special files"):
 * write-then-rename is for regular files only. A device, a FIFO or a
 * symbolic link is written through, never replaced by a regular file.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { lstatSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/build.js';
import { buildCli, hoist, REPO_ROOT } from '../helpers/cli.js';
import { readTar } from '../helpers/oci-reader.js';

const CLI = fileURLToPath(new URL('../../dist/bin/hoist.cjs', import.meta.url));
const HELLO = 'testdata/examples/hello';
/** Every run of the CLI is killed after two minutes: a write that blocks on a special file fails the test instead of hanging the suite. */
const KILL_AFTER = { timeoutMs: 120_000 };

/** Run the CLI without blocking the test's event loop (it must read a FIFO meanwhile). */
function hoistAsync(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER.timeoutMs);
  return new Promise((resolve) =>
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    }),
  );
}

/** Read a FIFO in another process (`cat`), so that a FIFO nobody ever opens for writing cannot hang this one. */
function readFifo(fifo: string): { data: Promise<Buffer>; stop: () => void } {
  const cat = spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'inherit'] });
  const chunks: Buffer[] = [];
  cat.stdout.on('data', (c: Buffer) => chunks.push(c));
  const data = new Promise<Buffer>((resolve) => cat.on('close', () => resolve(Buffer.concat(chunks))));
  return { data, stop: () => cat.kill('SIGKILL') };
}

describe('outputs into special files', () => {
  let cache: string;
  beforeAll(() => {
    buildCli();
    cache = path.join(tempDir('hoist-special-cache-'), 'cache');
  });
  const build = (...extra: string[]) => hoist(['build', HELLO, '-q', '--cache-dir', cache, ...extra], KILL_AFTER);

  it('a FIFO receives the archive and stays a FIFO', async () => {
    const fifo = path.join(tempDir('hoist-fifo-'), 'image.fifo');
    execFileSync('mkfifo', [fifo]);
    const reader = readFifo(fifo);
    const r = await hoistAsync(['build', HELLO, '--cache-dir', cache, '--output', `type=oci,dest=${fifo}`]);
    // Once hoist is done, the reader has everything or nothing will ever come.
    const timer = setTimeout(reader.stop, 10_000);
    const data = await reader.data;
    clearTimeout(timer);
    expect(r.stderr).not.toContain('internal error');
    expect(r.status).toBe(0);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
    const names = (await readTar(data)).map((m) => m.name);
    expect(names).toContain('index.json');
    expect(names).toContain('oci-layout');
  }, 120_000);

  it('a character device is written into, not replaced (/dev/null, and /dev/full fails with exit 1)', () => {
    const dir = tempDir('hoist-dev-');
    const devNull = path.join(dir, 'null');
    const devFull = path.join(dir, 'full');
    execFileSync('mknod', [devNull, 'c', '1', '3']);
    execFileSync('mknod', [devFull, 'c', '1', '7']);

    const ok = build('--output', `type=docker,dest=${devNull}`, '--metadata-file', devNull);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(lstatSync(devNull).isCharacterDevice()).toBe(true);

    const full = build('--output', `type=oci,dest=${devFull}`);
    expect(full.status).toBe(1);
    expect(full.stderr).toContain(devFull);
    expect(full.stderr).toContain('ENOSPC');
    expect(lstatSync(devFull).isCharacterDevice()).toBe(true);
  }, 120_000);

  it('a symbolic link to a regular file: the target is replaced, the link kept', () => {
    const dir = tempDir('hoist-link-');
    const target = path.join(dir, 'real-digest.txt');
    writeFileSync(target, 'old');
    const link = path.join(dir, 'digest.txt');
    symlinkSync('real-digest.txt', link);
    const archiveTarget = path.join(dir, 'real.tar');
    const archiveLink = path.join(dir, 'image.tar');
    symlinkSync(archiveTarget, archiveLink); // dangling: the target is created

    const r = build('--output', `type=oci,dest=${archiveLink}`, '--digest-file', link);
    expect(r.stderr).not.toContain('internal error');
    expect(r.status).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe('real-digest.txt');
    expect(readFileSync(target, 'utf8')).toBe(r.stdout.trim());
    expect(lstatSync(archiveLink).isSymbolicLink()).toBe(true);
    expect(lstatSync(archiveTarget).isFile()).toBe(true);
    expect(lstatSync(archiveTarget).size).toBeGreaterThan(1024);
  }, 120_000);

  it('--digest-file /proc/self/fd/1 writes the digest to standard output (a pipe, as a shell makes it)', () => {
    const out = path.join(tempDir('hoist-fd-'), 'image.tar');
    // Node's own child stdio is a socket pair, which /proc/self/fd/1 cannot reopen: pipe through cat as a shell would.
    const r = spawnSync('sh', ['-c', '"$@" | cat', 'sh', process.execPath, CLI, 'build', HELLO, '-q', '--cache-dir', cache, '--output', `type=oci,dest=${out}`, '--digest-file', '/proc/self/fd/1'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: KILL_AFTER.timeoutMs,
      killSignal: 'SIGKILL',
    });
    expect(r.stderr).not.toContain('internal error');
    expect(r.stderr).toBe('');
    const digest = /sha256:[0-9a-f]{64}/.exec(r.stdout)?.[0];
    expect(digest).toBeDefined();
    expect(r.stdout).toBe(`${digest}${digest}\n`);
  }, 120_000);

  it('a socket is refused with exit 1, not an internal error', async () => {
    const dir = tempDir('hoist-sock-');
    const sock = path.join(dir, 'sock');
    const server = createServer().listen(sock);
    await new Promise((r) => server.once('listening', r));
    try {
      const r = await hoistAsync(['build', HELLO, '--cache-dir', cache, '--output', `type=oci,dest=${sock}`]);
      expect(r.stderr).toContain(`${sock}: it is a socket`);
      expect(r.stderr).toMatch(/\nhint: /);
      expect(r.status).toBe(1);
      expect(lstatSync(sock).isSocket()).toBe(true);
    } finally {
      server.close();
    }
  }, 120_000);

  it('a symbolic link to a device is written through (copy to docker-archive:)', () => {
    const dir = tempDir('hoist-devlink-');
    const archive = path.join(dir, 'image.tar');
    expect(build('--output', `type=oci,dest=${archive}`).status).toBe(0);
    const dev = path.join(dir, 'null');
    execFileSync('mknod', [dev, 'c', '1', '3']);
    const link = path.join(dir, 'out.tar');
    symlinkSync(dev, link);
    const r = hoist(['copy', '-q', `oci-archive:${archive}`, `docker-archive:${link}:a:1`, '--cache-dir', cache], KILL_AFTER);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(lstatSync(dev).isCharacterDevice()).toBe(true);
  }, 120_000);
});
