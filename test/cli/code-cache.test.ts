/**
 * The launcher (package.json's bin, cmd/launcher.ts) runs the CLI bundle
 * from a V8 code cache next to it: made by a run that found none, kept while
 * it fits, and made again when it was made from other bundle content or V8
 * refuses it. Each test runs a copy of the built CLI in a directory of its
 * own: the other CLI test files run (and cache) the one in dist/bin.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeContext, tempDir } from '../helpers/build.js';
import { REPO_ROOT, buildCliAsync } from '../helpers/cli.js';

beforeAll(async () => {
  await buildCliAsync();
}, 300_000);

/** A copy of the built CLI as npm installs it: package.json, node_modules and dist/bin; returns dist/bin. */
function installCopy(): string {
  const root = tempDir('hoist-code-cache-');
  copyFileSync(path.join(REPO_ROOT, 'package.json'), path.join(root, 'package.json'));
  symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(root, 'node_modules'));
  const bin = path.join(root, 'dist', 'bin');
  mkdirSync(bin, { recursive: true });
  for (const name of ['hoist.cjs', 'hoist-cli.cjs']) copyFileSync(path.join(REPO_ROOT, 'dist', 'bin', name), path.join(bin, name));
  return bin;
}

function run(bin: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.join(bin, 'hoist.cjs'), ...args], { encoding: 'utf8', env: { ...process.env, HOIST_CACHE_DIR: '' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function cacheFiles(bin: string): string[] {
  return readdirSync(bin).filter((n) => n.endsWith('.v8-cache'));
}

const VERSION = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

describe('the code cache', () => {
  it('is made by the first run, kept by the next, and starts with the SHA-256 of the bundle', () => {
    const bin = installCopy();
    expect(cacheFiles(bin)).toEqual([]);
    expect(run(bin, ['--version'])).toMatchObject({ status: 0, stdout: `${VERSION}\n`, stderr: '' });
    const [name] = cacheFiles(bin);
    expect(name).toBe(`hoist-cli.cjs.${process.versions.v8}-${process.arch}.v8-cache`);
    const made = readFileSync(path.join(bin, name as string));
    expect(made.subarray(0, 32).equals(createHash('sha256').update(readFileSync(path.join(bin, 'hoist-cli.cjs'))).digest())).toBe(true);
    expect(run(bin, ['--version'])).toMatchObject({ status: 0, stdout: `${VERSION}\n` });
    // Accepted, so not written again: a build would have left other compiled functions in it.
    expect(readFileSync(path.join(bin, name as string)).equals(made)).toBe(true);
    expect(readdirSync(bin).sort()).toEqual(['hoist-cli.cjs', 'hoist.cjs', name].sort());
  });

  it('made from other bundle content, or refused by V8, is not used and is made again', () => {
    const bin = installCopy();
    expect(run(bin, ['--version']).status).toBe(0);
    const [name] = cacheFiles(bin);
    const file = path.join(bin, name as string);
    const good = readFileSync(file);
    // Another bundle's digest before this one's V8 data: the run must not hand V8 that data.
    writeFileSync(file, Buffer.concat([Buffer.alloc(32), good.subarray(32)]));
    const ctx = makeContext({ 'a.txt': 'a', Dockerfile: 'FROM scratch\nCOPY a.txt /a.txt\n' });
    const layout = path.join(tempDir('hoist-code-cache-out-'), 'layout');
    const build = ['build', ctx, '--progress', 'quiet', '--no-cache', '-o', `type=oci-layout,dest=${layout}`];
    expect(run(bin, build)).toMatchObject({ status: 0, stdout: expect.stringMatching(/^sha256:[0-9a-f]{64}\n$/) });
    expect(readFileSync(file).subarray(0, 32).equals(good.subarray(0, 32))).toBe(true);
    // This bundle's digest before data V8 refuses (cut short): V8 compiles the source and the run makes a cache again.
    writeFileSync(file, Buffer.concat([good.subarray(0, 32), good.subarray(32, 32 + 64)]));
    const second = run(bin, build);
    expect(second).toMatchObject({ status: 0, stdout: expect.stringMatching(/^sha256:[0-9a-f]{64}\n$/) });
    const again = readFileSync(file);
    expect(again.length).toBeGreaterThan(32 + 64);
    expect(again.subarray(0, 32).equals(good.subarray(0, 32))).toBe(true);
  });

  it('is not needed: where it cannot be written the CLI runs as before, leaving no temp file', () => {
    const bin = installCopy();
    // A directory where the cache goes: it cannot be read nor replaced, whoever runs the test (root writes to read-only directories).
    const name = `hoist-cli.cjs.${process.versions.v8}-${process.arch}.v8-cache`;
    mkdirSync(path.join(bin, name));
    expect(run(bin, ['--version'])).toMatchObject({ status: 0, stdout: `${VERSION}\n`, stderr: '' });
    expect(readdirSync(bin).sort()).toEqual(['hoist-cli.cjs', 'hoist.cjs', name].sort());
  });

  it('goes with a bundle that is pure ASCII, which the launcher decodes as latin1', () => {
    const bytes = readFileSync(path.join(REPO_ROOT, 'dist', 'bin', 'hoist-cli.cjs'));
    expect(bytes.every((b) => b < 0x80)).toBe(true);
  });
});
