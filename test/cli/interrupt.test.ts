import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { open, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/build.js';
import { buildCli, REPO_ROOT } from '../helpers/cli.js';

const randomBytesAsync = promisify(randomBytes);
const CLI = fileURLToPath(new URL('../../dist/bin/hoist.cjs', import.meta.url));

/**
 * A context whose one COPY takes seconds to compress: 160 MiB that gzip
 * cannot shrink, written without blocking the test worker's event loop.
 */
async function bigContext(): Promise<string> {
  const ctx = tempDir('hoist-bigctx-');
  const file = await open(path.join(ctx, 'big.bin'), 'w');
  try {
    for (let i = 0; i < 160; i++) await file.write(await randomBytesAsync(1 << 20));
  } finally {
    await file.close();
  }
  await writeFile(path.join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY big.bin /big.bin\n');
  return ctx;
}

function tempFiles(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith('.tmp-')) : [];
}

/** The spool files ADD is filling: in TMPDIR, hoist-build-X/hoist-add-Y/FILE. */
function addSpools(tmp: string): string[] {
  const list = (dir: string): string[] => {
    try {
      return readdirSync(dir).map((n) => path.join(dir, n));
    } catch {
      return []; // removed while we looked
    }
  };
  return list(tmp)
    .filter((d) => path.basename(d).startsWith('hoist-build-'))
    .flatMap(list)
    .filter((d) => path.basename(d).startsWith('hoist-add-'))
    .flatMap(list);
}

/**
 * Start a build, send `signal` once it writes its layer into the cache (or,
 * with `ready`, once that finds something in the build's TMPDIR), and
 * report how it ended.
 */
async function interruptedBuild(
  ctx: string,
  signal: NodeJS.Signals,
  ready?: (tmp: string) => boolean,
): Promise<{ code: number | null; stderr: string; cache: string; tmp: string; sawTemp: boolean }> {
  const out = tempDir('hoist-interrupt-');
  const cache = path.join(out, 'cache');
  const tmp = path.join(out, 'tmp');
  mkdirSync(tmp);
  const child = spawn(process.execPath, [CLI, 'build', ctx, '--output', `type=oci,dest=${path.join(out, 'image.tar')}`, '--cache-dir', cache], {
    cwd: REPO_ROOT,
    env: { ...process.env, TMPDIR: tmp },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const blobs = path.join(cache, 'blobs', 'sha256');
  let sawTemp = false;
  const deadline = Date.now() + 60_000;
  while (!sawTemp && child.exitCode === null && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    sawTemp = ready === undefined ? tempFiles(blobs).length > 0 : ready(tmp);
  }
  if (sawTemp) child.kill(signal);
  const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 60_000))]);
  if (code === 'hung') {
    child.kill('SIGKILL');
    throw new Error(`the build did not end within 60 s of ${signal}`);
  }
  return { code, stderr, cache: blobs, tmp, sawTemp };
}

describe('an interrupted build', () => {
  let ctx: string;
  beforeAll(async () => {
    buildCli();
    ctx = await bigContext();
  });

  it('SIGINT: exits 130 and leaves no temp file in the cache and no scratch directory', async () => {
    const r = await interruptedBuild(ctx, 'SIGINT');
    expect(r.sawTemp).toBe(true);
    expect(r.code).toBe(130);
    expect(r.stderr).toContain('interrupted by SIGINT');
    expect(r.stderr).not.toContain('internal error');
    expect(tempFiles(r.cache)).toEqual([]);
    expect(readdirSync(r.tmp).filter((n) => n.startsWith('hoist-build-'))).toEqual([]);
  }, 180_000);

  it('SIGTERM: exits 143, just as clean', async () => {
    const r = await interruptedBuild(ctx, 'SIGTERM');
    expect(r.sawTemp).toBe(true);
    expect(r.code).toBe(143);
    expect(tempFiles(r.cache)).toEqual([]);
    expect(readdirSync(r.tmp).filter((n) => n.startsWith('hoist-build-'))).toEqual([]);
  }, 180_000);

  it('SIGINT during ADD of a large archive: exit 130 and its spool is gone with the scratch directory', async () => {
    const archiveCtx = tempDir('hoist-bigadd-');
    await promisify(execFile)('sh', ['-c', `tar -C "$1" -cf - big.bin | gzip -1 > "$2"/big.tar.gz`, 'sh', ctx, archiveCtx]);
    await writeFile(path.join(archiveCtx, 'Dockerfile'), 'FROM scratch\nADD big.tar.gz /\n');
    const r = await interruptedBuild(archiveCtx, 'SIGINT', (tmp) => addSpools(tmp).length > 0);
    expect(r.sawTemp).toBe(true);
    expect(r.code).toBe(130);
    expect(r.stderr).not.toContain('internal error');
    expect(readdirSync(r.tmp)).toEqual([]);
    expect(tempFiles(r.cache)).toEqual([]);
  }, 180_000);

  it('SIGKILL leaves the scratch directory behind; the next build removes it', async () => {
    const r = await interruptedBuild(ctx, 'SIGKILL');
    expect(r.sawTemp).toBe(true);
    expect(r.code).toBe(null);
    const left = readdirSync(r.tmp);
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(/^hoist-build-/);
    const small = tempDir('hoist-smallctx-');
    await writeFile(path.join(small, 'Dockerfile'), 'FROM scratch\nCOPY Dockerfile /\n');
    const next = spawnSync(process.execPath, [CLI, 'build', small, '--output', `type=oci,dest=${path.join(small, 'i.tar')}`, '--cache-dir', path.dirname(path.dirname(r.cache)), '--progress', 'quiet'], {
      cwd: REPO_ROOT,
      env: { ...process.env, TMPDIR: r.tmp },
      encoding: 'utf8',
      timeout: 120_000,
      killSignal: 'SIGKILL',
    });
    expect(next.stderr).toBe('');
    expect(next.status).toBe(0);
    expect(readdirSync(r.tmp)).toEqual([]);
  }, 300_000);
});
