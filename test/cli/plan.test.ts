import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildCli, hoist } from '../helpers/cli.js';

function context(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'hoist-plan-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

describe('hoist plan', () => {
  beforeAll(buildCli);

  it('prints the expanded plan of the quick-start example', () => {
    const r = hoist(['plan', 'testdata/examples/hello', '--build-arg', 'VERSION=2.5']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(plan.target).toBe(2);
    expect(plan.stages.map((s: { name: string | null; base: string; needed: boolean }) => [s.name, s.base, s.needed])).toEqual([
      ['assets', 'scratch', true],
      ['docs', 'scratch', false],
      [null, 'scratch', true],
    ]);
    expect(plan.stages[0].instructions[1]).toEqual({ line: 8, kind: 'LABEL', args: ['org.opencontainers.image.version=2.5'], flags: {} });
    const last = plan.stages[2].instructions;
    expect(last[1]).toEqual({ line: 16, kind: 'ENV', args: ['APP_HOME=/srv/app', 'GREETING_VERSION=2.5'], flags: {} });
    expect(last[2]).toEqual({ line: 18, kind: 'WORKDIR', args: ['/srv/app'], flags: {} });
    expect(last[3]).toEqual({ line: 19, kind: 'COPY', args: ['/srv/greeting.txt', './'], flags: { from: 'assets', chmod: '0644' } });
    expect(last[4]).toMatchObject({ kind: 'COPY', args: ['<<EOF', '/etc/motd'], heredocs: [{ name: 'EOF', content: 'hello from hoist\n' }] });
    expect(plan.stages[2].dependsOn).toEqual([0]);
  });

  it('matches the documented JSON shape', () => {
    const dir = context({ Dockerfile: 'FROM scratch AS first\n\n\n\n\n\n\n\n\n\n\nLABEL a=b\n' });
    const r = hoist(['plan', dir]);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      target: 0,
      stages: [{ index: 0, name: 'first', base: 'scratch', needed: true, dependsOn: [], instructions: [{ line: 12, kind: 'LABEL', args: ['a=b'], flags: {} }] }],
    });
  });

  it('--target marks stages that are not needed', () => {
    const r = hoist(['plan', 'testdata/examples/hello', '--target', 'docs']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).stages.map((s: { needed: boolean }) => s.needed)).toEqual([false, true, false]);
  });

  it('-f names the Dockerfile, and - reads it from standard input', () => {
    const dir = context({ 'other.Dockerfile': 'FROM scratch\nLABEL from=file\n' });
    const fromFile = hoist(['plan', dir, '-f', path.join(dir, 'other.Dockerfile')]);
    expect(JSON.parse(fromFile.stdout).stages[0].instructions[0].args).toEqual(['from=file']);
    const fromStdin = hoist(['plan', dir, '-f', '-'], { input: 'FROM scratch\nLABEL from=stdin\n' });
    expect(JSON.parse(fromStdin.stdout).stages[0].instructions[0].args).toEqual(['from=stdin']);
  });

  it('--build-arg NAME takes the value from the environment', () => {
    const dir = context({ Dockerfile: 'FROM scratch\nARG TOKEN_NAME\nLABEL t=$TOKEN_NAME\n' });
    const r = hoist(['plan', dir, '--build-arg', 'TOKEN_NAME'], { env: { TOKEN_NAME: 'from-env' } });
    expect(JSON.parse(r.stdout).stages[0].instructions[1].args).toEqual(['t=from-env']);
  });

  it('warns on stderr about build args nothing declares', () => {
    const dir = context({ Dockerfile: 'FROM scratch\n' });
    const r = hoist(['plan', dir, '--build-arg', 'UNUSED=1']);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('warning: one or more build-args [UNUSED] were not consumed');
  });

  it('a Dockerfile error exits 1 with PATH:LINE, a hint and no stack trace', () => {
    const dir = context({ Dockerfile: 'FROM scratch\nCOPY --chmod=abc a b\n' });
    const r = hoist(['plan', dir]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`error: ${path.join(dir, 'Dockerfile')}:2: COPY: invalid chmod parameter: 'abc'`);
    expect(r.stderr).toContain('hint: give an octal mode such as 0755');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('an unknown --target exits 1 and names the stages', () => {
    const r = hoist(['plan', 'testdata/examples/hello', '--target', 'nope']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('error: target stage "nope" could not be found');
    expect(r.stderr).toContain('hint: stages with names: assets, docs');
  });

  it('a missing Dockerfile or context exits 1', () => {
    const empty = context({});
    expect(hoist(['plan', empty]).stderr).toContain('cannot read Dockerfile');
    expect(hoist(['plan', path.join(empty, 'missing')]).status).toBe(1);
  });

  it('a bad .dockerignore pattern is reported before any work', () => {
    const dir = context({ Dockerfile: 'FROM scratch\n', '.dockerignore': '[\n' });
    const r = hoist(['plan', dir]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error: .*\.dockerignore/);
  });

  it('usage errors exit 2', () => {
    expect(hoist(['plan', '--no-such-flag']).status).toBe(2);
    expect(hoist(['no-such-verb']).status).toBe(2);
    expect(hoist([]).status).toBe(2);
    expect(hoist(['plan', '.', '--platform', 'a/b/c/d']).status).toBe(2);
  });

  it('--help exits 0', () => {
    const r = hoist(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('plan');
  });
});
