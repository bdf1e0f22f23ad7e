/**
 * A build context the user does not control (issue 11): its Dockerfile and
 * .dockerignore may be symlinks meant to make hoist read and print a host
 * file, its lines may carry terminal escapes, and its ignore patterns may be
 * written to make matching exponential.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeContext, tempDir } from '../helpers/build.js';
import { buildCli, hoist } from '../helpers/cli.js';

/** A file outside every context, whose content must never reach output. */
function hostSecret(): { file: string; secret: string } {
  const secret = `hoistFakeSecret${randomBytes(24).toString('hex')}`;
  const file = path.join(tempDir('hoist-host-'), 'token');
  writeFileSync(file, `${secret}\n`);
  return { file, secret };
}

/** The secret nor any long piece of it appears in `text`. */
function expectNoSecret(text: string, secret: string): void {
  expect(text).not.toContain(secret);
  expect(text).not.toContain(secret.slice(0, 20));
}

const DEADLINE = { timeoutMs: 120_000 };

describe('hostile build contexts', () => {
  beforeAll(buildCli);

  it('a Dockerfile symlinked to an absolute host path is looked up inside the context, and not found', () => {
    const { file, secret } = hostSecret();
    const context = makeContext({ 'a.txt': 'a\n', Dockerfile: { symlink: file } });
    const r = hoist(['plan', context], DEADLINE);
    expectNoSecret(r.stdout + r.stderr, secret);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('cannot read Dockerfile');
    expect(r.stderr).toContain('no such file');
  });

  it('a Dockerfile symlinked through ".." out of the context is not found either', () => {
    const { file, secret } = hostSecret();
    const context = makeContext({ 'a.txt': 'a\n' });
    const up = path.relative(context, file);
    expect(up.startsWith('..')).toBe(true);
    symlinkSync(up, path.join(context, 'Dockerfile'));
    const r = hoist(['plan', context], DEADLINE);
    expectNoSecret(r.stdout + r.stderr, secret);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('no such file');
  });

  it('the same holds for -f naming a path inside the context and for a symlinked parent directory', () => {
    const { file, secret } = hostSecret();
    const context = makeContext({ docker: { symlink: path.dirname(file) } });
    const r = hoist(['plan', context, '-f', path.join(context, 'docker', 'token')], DEADLINE);
    expectNoSecret(r.stdout + r.stderr, secret);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('no such file');
  });

  it('an absolute symlink target means the same path under the context root, as in BuildKit', () => {
    const context = makeContext({ 'build/Dockerfile.real': 'FROM scratch\nLABEL from=inside\n' });
    symlinkSync('/build/Dockerfile.real', path.join(context, 'Dockerfile'));
    const r = hoist(['plan', context], DEADLINE);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('inside');
  });

  it('an explicit -f outside the context is still read: that file is the user\'s choice', () => {
    const outside = path.join(tempDir('hoist-df-'), 'Dockerfile');
    writeFileSync(outside, 'FROM scratch\nLABEL from=outside\n');
    const context = makeContext({ 'a.txt': 'a\n' });
    const r = hoist(['plan', context, '-f', outside], DEADLINE);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('outside');
  });

  it('a .dockerignore symlinked out of the context is not read', () => {
    const { file, secret } = hostSecret();
    // Read as an ignore file, "[" would be a syntax error that names the pattern.
    writeFileSync(file, `[${secret}\n`);
    const context = makeContext({ Dockerfile: 'FROM scratch\nCOPY a.txt /\n', 'a.txt': 'a\n', '.dockerignore': { symlink: file } });
    const r = hoist(['plan', context], DEADLINE);
    expectNoSecret(r.stdout + r.stderr, secret);
    expect(r.status).toBe(0);
  });

  it('a .dockerignore symlinked to an absolute path inside the context is read from there', () => {
    const context = makeContext({ Dockerfile: 'FROM scratch\nCOPY a.txt /\n', 'a.txt': 'a\n', 'conf/ignore': '[bad\n' });
    symlinkSync('/conf/ignore', path.join(context, '.dockerignore'));
    const r = hoist(['plan', context], DEADLINE);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('invalid ignore pattern');
  });

  it('an unparseable line is echoed only as a short prefix, with control characters escaped', () => {
    const secret = `hoistFakeSecret${randomBytes(32).toString('hex')}`;
    const context = makeContext({ Dockerfile: `\u001b]0;owned\u0007\u001b[31m${secret}\n` });
    const r = hoist(['plan', context], DEADLINE);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('unknown instruction');
    expect(r.stderr).not.toContain(secret);
    expect(r.stderr).not.toContain('\u001b');
    expect(r.stderr).not.toContain('\u0007');
    expect(r.stderr).toContain('…');
    const echoed = /unknown instruction: (\S*)/.exec(r.stderr)?.[1] ?? '';
    expect(Array.from(echoed).length).toBeLessThanOrEqual(60);
  });

  it('a .dockerignore of exponential patterns still builds in bounded time', () => {
    const hostile = ['*a*a*a*a*a*a*a*a*a*a*a*a*ab', `x/${'**/'.repeat(25)}b`, `a${'**a'.repeat(12)}b`].join('\n');
    const context = makeContext({ Dockerfile: 'FROM scratch\nCOPY . /\n', '.dockerignore': `${hostile}\n` });
    // Names and depths that make a backtracking matcher try every split.
    writeFileSync(path.join(context, 'a'.repeat(200)), 'x');
    const deep = path.join(context, 'x', ...Array.from({ length: 60 }, () => 'x'));
    mkdirSync(deep, { recursive: true });
    writeFileSync(path.join(deep, 'a'.repeat(100)), 'x');
    const out = tempDir('hoist-cli-hostile-');
    const r = hoist(['build', context, '--output', `type=oci,dest=${path.join(out, 'img.tar')}`, '--cache-dir', path.join(out, 'cache')], { timeoutMs: 60_000 });
    expect(r.stderr).not.toContain('internal error');
    expect(r.status).toBe(0);
  });
});
