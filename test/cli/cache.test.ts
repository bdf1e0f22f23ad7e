/** `hoist cache du` and `hoist cache prune` on a cache dir a real build filled. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli, hoist, REPO_ROOT } from '../helpers/cli.js';

let work: string;
beforeAll(() => {
  buildCli();
  work = mkdtempSync(path.join(tmpdir(), 'hoist-cache-cli-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

function sizeOf(stdout: string, part: string): { items: number; text: string } {
  const line = stdout.split('\n').find((l) => l.startsWith(part)) ?? '';
  const [, items, ...size] = line.trim().split(/\s+/);
  return { items: Number(items), text: size.join(' ') };
}

describe('hoist cache', () => {
  it('du shows what a build stored; prune --keep-storage and --filter remove it; mistakes are usage errors', () => {
    const cacheDir = path.join(work, 'cache');
    const built = hoist(['build', '-q', path.join(REPO_ROOT, 'testdata/examples/hello'), '--cache-dir', cacheDir, '-o', `type=oci,dest=${path.join(work, 'img.tar')}`]);
    expect(built.status, built.stderr).toBe(0);

    const du = hoist(['cache', 'du', '--cache-dir', cacheDir]);
    expect(du.status, du.stderr).toBe(0);
    expect(du.stdout).toContain(`cache directory ${cacheDir}`);
    expect(sizeOf(du.stdout, 'blobs').items).toBeGreaterThan(0);

    // Everything was used just now: a week's filter keeps it all.
    const kept = hoist(['cache', 'prune', '--filter', 'until=168h', '--cache-dir', cacheDir]);
    expect(kept.status, kept.stderr).toBe(0);
    expect(kept.stdout).toMatch(/^removed 0 items, 0 B;/);

    const pruned = hoist(['cache', 'prune', '--keep-storage', '0', '--cache-dir', cacheDir]);
    expect(pruned.status, pruned.stderr).toBe(0);
    expect(pruned.stdout).toMatch(/^removed [1-9]\d* items/);
    expect(sizeOf(hoist(['cache', 'du', '--cache-dir', cacheDir]).stdout, 'total').items).toBe(0);

    const badSize = hoist(['cache', 'prune', '--keep-storage', 'lots', '--cache-dir', cacheDir]);
    expect(badSize.status).toBe(2);
    expect(badSize.stderr).toContain('is not a size');
    const badFilter = hoist(['cache', 'prune', '--filter', 'type=regular', '--cache-dir', cacheDir]);
    expect(badFilter.status).toBe(2);
    expect(badFilter.stderr).toContain('until=DURATION');
    const badAction = hoist(['cache', 'clean', '--cache-dir', cacheDir]);
    expect(badAction.status).toBe(2);
    expect(badAction.stderr).toContain('hoist cache du or hoist cache prune');
  });
});
