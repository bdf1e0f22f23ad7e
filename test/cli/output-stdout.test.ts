/**
 * The CLI as a user runs it: `-o type=oci,dest=-` and `type=docker,dest=-`
 * write the archive to standard output (a pipe), as buildx does, and refuse
 * a terminal; `--platform` takes one platform; an archive with one image
 * under two tags pushes without naming one.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/build.js';
import { buildCli, hoist, REPO_ROOT } from '../helpers/cli.js';
import { readDockerArchive, readOciArchive } from '../helpers/oci-reader.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry/index.js';

const CLI = fileURLToPath(new URL('../../dist/bin/hoist.cjs', import.meta.url));

describe('build outputs on standard output, and --platform', () => {
  let out: string;
  let cache: string;
  let registry: RunningRegistry;

  /** Run the CLI with standard output a pipe, keeping its bytes. */
  function runBinary(args: string[]): { status: number | null; stdout: Buffer; stderr: string } {
    const r = spawnSync(process.execPath, [CLI, ...args, '--cache-dir', cache], { cwd: out, encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString('utf8') };
  }

  beforeAll(async () => {
    buildCli();
    out = tempDir('hoist-stdout-');
    cache = path.join(out, 'cache');
    registry = await startRegistry();
  });
  afterAll(async () => registry?.stop());

  const context = path.join(REPO_ROOT, 'testdata/examples/hello');

  it('type=oci,dest=- and type=docker,dest=- write the archive to a pipe, the digest to stderr, no file named -', async () => {
    const oci = runBinary(['build', context, '-t', 'hello:1', '-o', 'type=oci,dest=-']);
    expect(oci.stderr).toMatch(/digest sha256:[0-9a-f]{64}/);
    expect(oci.status).toBe(0);
    // A pipe on stderr too: plain progress, which names where the image went in words.
    expect(oci.stderr).toContain('wrote oci to standard output');
    expect(oci.stderr).not.toContain('wrote oci -');
    const digest = /digest (sha256:[0-9a-f]{64})/.exec(oci.stderr)![1];
    const file = path.join(out, 'from-stdout.tar');
    writeFileSync(file, oci.stdout);
    expect((await readOciArchive(file, '1')).manifestDigest).toBe(digest);
    expect(existsSync(path.join(out, '-'))).toBe(false);

    const docker = runBinary(['build', context, '-t', 'hello:1', '-o', 'type=docker,dest=-']);
    expect(docker.status).toBe(0);
    const dockerFile = path.join(out, 'docker-from-stdout.tar');
    writeFileSync(dockerFile, docker.stdout);
    expect((await readDockerArchive(dockerFile)).manifest[0]?.RepoTags).toEqual(['hello:1']);
    expect(existsSync(path.join(out, '-'))).toBe(false);
  });

  it('refuses dest=- when standard output is a terminal, and two outputs on standard output', () => {
    // `script` gives the command a pseudo-terminal as standard output.
    const cmd = [process.execPath, CLI, 'build', context, '-o', 'type=oci,dest=-', '--cache-dir', cache].map((a) => `'${a}'`).join(' ');
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { cwd: out, encoding: 'utf8' });
    expect(r.stdout).toContain('refusing to write an image archive to a terminal');
    expect(r.status).toBe(2);
    expect(existsSync(path.join(out, '-'))).toBe(false);

    const two = runBinary(['build', context, '-o', 'type=oci,dest=-', '-o', 'type=docker,dest=-']);
    expect(two.status).toBe(2);
    expect(two.stderr).toContain('only one can');
    const layout = runBinary(['build', context, '-o', 'type=oci-layout,dest=-']);
    expect(layout.status).toBe(2);
    expect(layout.stderr).toContain('cannot go to standard output');
  });

  it('--platform refuses a list and an unknown word; accepts containerd spellings', () => {
    const list = hoist(['plan', 'testdata/examples/hello', '--platform', 'linux/amd64,linux/arm64']);
    expect(list.status).toBe(2);
    expect(list.stderr).toContain('multi-platform builds are not supported yet');
    const foo = hoist(['plan', 'testdata/examples/hello', '--platform', 'foo']);
    expect(foo.status).toBe(2);
    expect(foo.stderr).toContain('unknown operating system or architecture');
    const armhf = hoist(['plan', '-f', '-', '--platform', 'armhf', 'testdata/examples/hello'], { input: 'FROM scratch\nARG TARGETPLATFORM\nLABEL p=$TARGETPLATFORM\n' });
    expect(armhf.status).toBe(0);
    expect(armhf.stdout).toContain('p=linux/arm/v7');
    const digestList = hoist(['digest', '--platform', 'linux/amd64,linux/arm64', 'oci-archive:nope.tar']);
    expect(digestList.status).toBe(2);
    expect(digestList.stderr).toContain('name one platform');
  });

  it('push oci-archive:FILE REF of an archive with one image under two tags pushes it', () => {
    const archive = path.join(out, 'two-tags.tar');
    const built = runBinary(['build', context, '-t', 'hello:1', '-t', 'hello:latest', '-o', `type=oci,dest=${archive}`]);
    expect(built.status).toBe(0);
    const digest = built.stdout.toString('utf8').trim();
    const pushed = hoist(['push', `oci-archive:${archive}`, `${registry.host}/two/tags:1`, '--cache-dir', cache, '-q']);
    expect(pushed.stderr).toBe('');
    expect(pushed.stdout.trim()).toBe(digest);
  });
});
