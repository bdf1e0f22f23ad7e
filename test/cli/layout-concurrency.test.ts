/**
 * Concurrent writers to one OCI layout (issue 11): index.json is updated
 * under a lock and re-read there, so no writer's tag is lost.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/build.js';
import { buildCli, hoist, REPO_ROOT } from '../helpers/cli.js';

const CLI = fileURLToPath(new URL('../../dist/bin/hoist.cjs', import.meta.url));

/** One writer: `hoist copy` into the layout once per tag, one after another; resolves with the failures' stderr. */
function writer(archive: string, layout: string, cache: string, tags: string[]): Promise<string[]> {
  const script = tags.map((t) => `"$0" "$1" copy -q "oci-archive:$2" "oci-layout:$3:${t}" --cache-dir "$4" >/dev/null || echo "copy ${t} failed: $?" >&2`).join('\n');
  const child = spawn('sh', ['-c', script, process.execPath, CLI, archive, layout, cache], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
  return new Promise((resolve) =>
    child.on('close', () => {
      clearTimeout(timer);
      resolve(stderr === '' ? [] : [stderr]);
    }),
  );
}

function refNames(layout: string): string[] {
  const index = JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ annotations?: Record<string, string> }> };
  return index.manifests.map((m) => m.annotations?.['org.opencontainers.image.ref.name'] ?? '').sort();
}

describe('one OCI layout, many writers', () => {
  let archive: string;
  let out: string;
  beforeAll(() => {
    buildCli();
    out = tempDir('hoist-layout-race-');
    archive = path.join(out, 'hello.tar');
    const r = hoist(['build', 'testdata/examples/hello', '--output', `type=oci,dest=${archive}`, '--cache-dir', path.join(out, 'cache')]);
    expect(r.status).toBe(0);
  });

  it('ten processes writing four tags each keep all forty', async () => {
    const layout = path.join(out, 'layout');
    const writers = Array.from({ length: 10 }, (_, w) => Array.from({ length: 4 }, (_, t) => `w${w}-t${t}`));
    const failures = (await Promise.all(writers.map((tags, w) => writer(archive, layout, path.join(out, `cache-${w}`), tags)))).flat();
    expect(failures).toEqual([]);
    expect(refNames(layout)).toEqual(writers.flat().sort());
  }, 300_000);

  it('a lock left by a dead process is taken over; one held by a live process makes the writer wait', async () => {
    const layout = path.join(out, 'locked');
    expect(hoist(['copy', `oci-archive:${archive}`, `oci-layout:${layout}:first`, '--cache-dir', path.join(out, 'cache')], { timeoutMs: 120_000 }).status).toBe(0);
    const lock = path.join(layout, 'index.json.lock');

    // pid 2^22+1 is above Linux's pid_max limit: no process has it.
    writeFileSync(lock, `${2 ** 22 + 1}\n`);
    const stale = hoist(['copy', '-q', `oci-archive:${archive}`, `oci-layout:${layout}:second`, '--cache-dir', path.join(out, 'cache')], { timeoutMs: 120_000 });
    expect(stale.stderr).toBe('');
    expect(stale.status).toBe(0);
    expect(refNames(layout)).toEqual(['first', 'second']);

    // This test process is alive: its lock is respected; the writer waits until it is gone.
    writeFileSync(lock, `${process.pid}\n`);
    const started = Date.now();
    const waiting = writer(archive, layout, path.join(out, 'cache'), ['third']);
    await new Promise((r) => setTimeout(r, 3000));
    expect(refNames(layout)).toEqual(['first', 'second']);
    unlinkSync(lock);
    expect(await waiting).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(3000);
    expect(refNames(layout)).toEqual(['first', 'second', 'third']);
    expect(existsSync(lock)).toBe(false);
  }, 120_000);
});
