/**
 * Interruption debris in an OCI layout (issue 11): a pull into a layout that
 * is interrupted removes its temp blobs, and a layout writer removes those a
 * killed process left behind.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/build.js';
import { buildCli, hoist, REPO_ROOT } from '../helpers/cli.js';
import { pushTestImage, startRegistry, type RunningRegistry } from '../helpers/registry/index.js';

const CLI = fileURLToPath(new URL('../../dist/bin/hoist.cjs', import.meta.url));

function tempFiles(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith('.tmp-')) : [];
}

/** An archive's temp files: `FILE.tmp-XXXX` beside it. */
function archiveTempFiles(file: string): string[] {
  return readdirSync(path.dirname(file)).filter((n) => n.startsWith(`${path.basename(file)}.tmp-`));
}

/** Start `hoist args`, send `signal` once `temps()` finds a temp file, and report how it ended. */
async function interrupted(args: string[], temps: () => string[], signal: NodeJS.Signals): Promise<{ code: number | null; stderr: string; sawTemp: boolean }> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let sawTemp = false;
  const deadline = Date.now() + 60_000;
  while (!sawTemp && child.exitCode === null && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 5));
    sawTemp = temps().length > 0;
  }
  if (sawTemp) child.kill(signal);
  const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 60_000))]);
  if (code === 'hung') {
    child.kill('SIGKILL');
    throw new Error(`hoist did not end within 60 s of ${signal}`);
  }
  return { code, stderr, sawTemp };
}

describe('an interrupted write into an OCI layout', () => {
  let registry: RunningRegistry;
  let ref: string;
  beforeAll(async () => {
    buildCli();
    registry = await startRegistry();
    ref = `${registry.host}/big/image:1`;
    // Two layers of 64 MiB that gzip cannot shrink: the pull takes long enough to be caught mid-blob.
    await pushTestImage(registry, 'big/image', '1', { layers: 2, layerSize: 64 << 20 });
  }, 300_000);
  afterAll(async () => registry?.stop());

  for (const [signal, exit] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`${signal} during a pull: exit ${exit}, no temp blob left, and a re-pull leaves none either`, async () => {
      const out = tempDir('hoist-pull-int-');
      const layout = path.join(out, 'layout');
      const cache = path.join(out, 'cache');
      const blobs = path.join(layout, 'blobs', 'sha256');
      const r = await interrupted(['pull', ref, `oci-layout:${layout}:x`, '--cache-dir', cache], () => tempFiles(blobs), signal);
      expect(r.sawTemp).toBe(true);
      expect(r.stderr).not.toContain('internal error');
      expect(r.code).toBe(exit);
      expect(tempFiles(blobs)).toEqual([]);

      const again = hoist(['pull', ref, `oci-layout:${layout}:x`, '--cache-dir', cache], { timeoutMs: 120_000 });
      expect(again.status).toBe(0);
      expect(tempFiles(blobs)).toEqual([]);
    }, 240_000);
  }

  it('SIGINT during a local copy into an archive: exit 130 and no temp file beside it', async () => {
    const out = tempDir('hoist-copy-int-');
    const layout = path.join(out, 'layout');
    const cache = path.join(out, 'cache');
    expect(hoist(['pull', ref, `oci-layout:${layout}:x`, '--cache-dir', cache], { timeoutMs: 120_000 }).status).toBe(0);
    const archive = path.join(out, 'image.tar');
    const r = await interrupted(['copy', `oci-layout:${layout}:x`, `oci-archive:${archive}`, '--cache-dir', cache], () => archiveTempFiles(archive), 'SIGINT');
    expect(r.sawTemp).toBe(true);
    expect(r.stderr).not.toContain('internal error');
    expect(r.code).toBe(130);
    expect(archiveTempFiles(archive)).toEqual([]);
    expect(existsSync(archive)).toBe(false);
  }, 240_000);

  it('a writer removes old temp blobs of dead processes from the layout, and keeps a live one\'s', () => {
    const out = tempDir('hoist-stale-layout-');
    const layout = path.join(out, 'layout');
    const blobs = path.join(layout, 'blobs', 'sha256');
    mkdirSync(blobs, { recursive: true });
    // pid 2^22+1 is above Linux's pid_max: that writer is dead. An hour old: past the PID-namespace guard.
    const dead = path.join(blobs, `.tmp-${2 ** 22 + 1}-0123456789abcdef`);
    const live = path.join(blobs, `.tmp-${process.pid}-fedcba9876543210`);
    for (const f of [dead, live]) {
      writeFileSync(f, 'partial');
      utimesSync(f, new Date(Date.now() - 3600_000), new Date(Date.now() - 3600_000));
    }
    const archive = path.join(out, 'hello.tar');
    expect(hoist(['build', 'testdata/examples/hello', '--output', `type=oci,dest=${archive}`, '--cache-dir', path.join(out, 'cache')]).status).toBe(0);
    const r = hoist(['copy', `oci-archive:${archive}`, `oci-layout:${layout}:hello`, '--cache-dir', path.join(out, 'cache')], { timeoutMs: 120_000 });
    expect(r.status).toBe(0);
    expect(tempFiles(blobs)).toEqual([path.basename(live)]);
  }, 120_000);
});
