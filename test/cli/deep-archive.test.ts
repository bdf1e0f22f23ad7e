/**
 * Issue 11: an archive with one file 6,000 directories deep took 526 s to
 * ADD (cubic work making the parents); 20,000 deep would have taken hours.
 * Every stage the archive goes through (extraction, the COPY/ADD planner,
 * the stage's view, the layer writer, `hoist export`) must be linear in the
 * depth. The CLI runs in a child process killed at a generous limit, so
 * that a regression (synchronous work that never yields) fails the test
 * instead of hanging it.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tarChunks } from '../../src/tar/index.js';
import { buildCli, REPO_ROOT } from '../helpers/cli.js';

const CLI = fileURLToPath(new URL('../../dist/bin/hoist.cjs', import.meta.url));

/** One member, `d/d/.../d/file` `depth` directories deep, no directory member: every parent is implied. */
async function deepTar(depth: number): Promise<Buffer> {
  const name = `${'d/'.repeat(depth)}file`;
  const chunks: Buffer[] = [];
  for await (const c of tarChunks([{ header: { name, type: 'file', mode: 0o644, uid: 0, gid: 0, size: 4, mtime: 1_700_000_000 }, open: () => [Buffer.from('deep')] }])) {
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/** The CLI, killed after `limitMs` (asynchronously, so the test worker stays responsive meanwhile). */
function hoistWithin(limitMs: number, args: string[]): Promise<{ status: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: limitMs, killSignal: 'SIGKILL' }, (_err, _stdout, stderr) =>
      resolve({ status: child.exitCode, signal: child.signalCode, stderr }),
    );
  });
}

let work: string;
beforeAll(() => {
  buildCli();
  work = mkdtempSync(path.join(tmpdir(), 'hoist-deep-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('ADD of an archive with one file thousands of directories deep', () => {
  // The limits are generous for a noisy 2-core machine and still far below what cubic work needed.
  for (const [depth, limit] of [
    [6_000, 60_000],
    // Deeper costs quadratic bytes in any tar (each member names its whole path), not hoist time worth testing.
    [10_000, 120_000],
  ] as const) {
    it(`${depth} directories deep: build (with a second ADD over the first) and export finish in bounded time`, async () => {
      const dir = path.join(work, String(depth));
      const ctx = path.join(dir, 'ctx');
      mkdirSync(ctx, { recursive: true });
      writeFileSync(path.join(ctx, 'deep.tar'), await deepTar(depth));
      // The second ADD resolves its destination through the stage's view of the first.
      writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM scratch\nADD deep.tar /x/\nADD deep.tar /x/\n');
      const archive = path.join(dir, 'image.tar');
      const built = await hoistWithin(limit, ['build', ctx, '--output', `type=oci,dest=${archive}`, '--cache-dir', path.join(dir, 'cache')]);
      expect(built, built.stderr).toMatchObject({ status: 0, signal: null });

      const fsTar = path.join(dir, 'fs.tar');
      const exported = await hoistWithin(limit, ['export', `oci-archive:${archive}`, fsTar]);
      expect(exported, exported.stderr).toMatchObject({ status: 0, signal: null });

      // GNU tar reads the flattened filesystem back: every directory on the way once, then the file.
      const listed = execFileSync('tar', ['-tf', fsTar], { maxBuffer: 1 << 30, encoding: 'utf8' }).split('\n').filter((l) => l !== '');
      const deepName = `x/${'d/'.repeat(depth)}file`;
      expect(listed.filter((n) => !n.endsWith('/'))).toEqual([deepName]);
      expect(listed.filter((n) => n.endsWith('/'))).toHaveLength(depth + 1);
      expect(execFileSync('tar', ['-xOf', fsTar, deepName], { encoding: 'utf8' })).toBe('deep');
    }, 3 * limit);
  }
});
