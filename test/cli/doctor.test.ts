import { beforeAll, describe, expect, it } from 'vitest';
import { buildCli, hoist } from '../helpers/cli.js';
import { ensureDebianPackages } from '../helpers/packages.js';

describe('hoist doctor', () => {
  beforeAll(async () => {
    await ensureDebianPackages(['proot', 'uidmap']);
    buildCli();
  }, 15 * 60_000);

  it('reports every check, every runner and the pick, as text and as JSON that agree', () => {
    const text = hoist(['doctor']);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/^What can run RUN steps here \(user \S+, uid \d+\):/);
    for (const name of ['user namespaces', 'subordinate ids (newuidmap)', '/proc in a user namespace', 'chroot', 'proot']) {
      expect(text.stdout).toMatch(new RegExp(`^  (yes|no ) {2}${name.replace(/[()/]/g, '\\$&')} `, 'm'));
    }
    const json = hoist(['doctor', '--format', 'json']);
    expect(json.status).toBe(0);
    const report = JSON.parse(json.stdout) as { auto: { root: { kind: string; reason: string; snapshot: { kind: string; reason: string } } | null }; runners: { kind: string; ok: boolean }[] };
    expect(report.runners.map((r) => r.kind)).toEqual(['userns', 'chroot', 'proot']);
    // proot is installed and works here, so something is always picked, and the text names the same runner.
    expect(report.auto.root).not.toBeNull();
    // The first runner that works, except that root without a subordinate range prefers chroot to a userns mapping root only.
    const firstOk = report.runners.find((r) => r.ok)?.kind;
    if (report.auto.root?.kind !== firstOk) expect(report.auto.root?.reason).toContain('not userns: it would map only root here');
    expect(report.runners.find((r) => r.kind === report.auto.root?.kind)?.ok).toBe(true);
    expect(text.stdout).toContain(`--isolation auto picks: ${report.auto.root?.kind} (`);
    // And the snapshotter auto takes with that runner, the same in both.
    expect(['walk', 'overlay']).toContain(report.auto.root?.snapshot.kind);
    expect(text.stdout).toContain(`  with --snapshot auto: ${report.auto.root?.snapshot.reason}`);
  });

  it('refuses an unknown --format as a usage error', () => {
    const r = hoist(['doctor', '--format', 'yaml']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown --format "yaml"');
  });
});
