import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeContext, tempDir } from '../helpers/build.js';
import { buildCli, hoist, REPO_ROOT } from '../helpers/cli.js';
import { mixed, reference } from '../helpers/gzip-reference.js';
import { busyboxBinary } from '../helpers/busybox-rootfs.js';
import { threadNices } from '../helpers/processes.js';
import { flatten, readOciArchive } from '../helpers/oci-reader.js';

describe('hoist build', () => {
  beforeAll(buildCli);

  it('builds the quick-start example into an OCI archive and prints the digest', async () => {
    const out = tempDir('hoist-cli-build-');
    const dest = path.join(out, 'hello.tar');
    const r = hoist(
      ['build', 'testdata/examples/hello', '-t', 'hello:latest', '--output', `type=oci,dest=${dest}`, '--cache-dir', path.join(out, 'cache'),
        '--digest-file', path.join(out, 'digest'), '--metadata-file', path.join(out, 'meta.json')],
      { env: { SOURCE_DATE_EPOCH: '1700000000' } },
    );
    expect(r.stderr).toContain(`wrote oci ${dest}`);
    expect(r.status).toBe(0);
    const digest = r.stdout.trim();
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(readFileSync(path.join(out, 'digest'), 'utf8')).toBe(digest);
    const meta = JSON.parse(readFileSync(path.join(out, 'meta.json'), 'utf8'));
    expect(meta.digest).toBe(digest);
    expect(meta.tags).toEqual(['docker.io/library/hello:latest']);
    const image = await readOciArchive(dest, 'latest');
    expect(image.manifestDigest).toBe(digest);
    expect(meta.layers.map((l: { digest: string }) => l.digest)).toEqual(image.manifest.layers.map((l: { digest: string }) => l.digest));
    const files = flatten(image.layers);
    expect(files.get('srv/app/greeting.txt')?.content.toString()).toBe('Hello, world!\n');
    expect(files.get('srv/app/greeting.txt')?.mode).toBe(0o644);
    expect(files.get('etc/motd')?.content.toString()).toBe('hello from hoist\n');
    expect(image.config.config.Cmd).toEqual(['cat', '/srv/app/greeting.txt']);
    expect(image.config.config.User).toBe('1000:1000');

    const again = hoist(['build', 'testdata/examples/hello', '-t', 'hello:latest', '--output', `type=oci,dest=${dest}`, '--cache-dir', path.join(out, 'cache2')], {
      env: { SOURCE_DATE_EPOCH: '1700000000' },
    });
    expect(again.stdout.trim()).toBe(digest);
  });

  it('exits 1 with the Dockerfile line on a build error, leaving no output', () => {
    const out = tempDir('hoist-cli-fail-');
    const dest = path.join(out, 'x.tar');
    const r = hoist(['build', 'testdata/examples/hello', '-f', '-', '--output', `type=oci,dest=${dest}`, '--cache-dir', path.join(out, 'c')], {
      input: 'FROM scratch\nCOPY nope.txt /\n',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('error: -:2: COPY: source "nope.txt" not found in build context (is it excluded by .dockerignore?)');
    expect(existsSync(dest)).toBe(false);
  });

  it('writes layers at gzip level 4 unless --compression-level says otherwise; a cached layer keeps its level', () => {
    // About 1 MiB of text and noise: several gzip blocks, which each level compresses differently.
    const context = makeContext({ Dockerfile: 'FROM scratch\nCOPY data /data\n', data: mixed(1 << 20).toString('latin1') });
    const out = tempDir('hoist-cli-level-');
    const layerOf = (name: string, args: string[], cache = name): { blob: Buffer; tar: Buffer } => {
      const dest = path.join(out, name);
      const r = hoist(['build', context, '--output', `type=oci-layout,dest=${dest}`, '--cache-dir', path.join(out, `cache-${cache}`), ...args], { env: { SOURCE_DATE_EPOCH: '1700000000' } });
      expect(r.status, r.stderr).toBe(0);
      const index = JSON.parse(readFileSync(path.join(dest, 'index.json'), 'utf8'));
      const blob = (digest: string): Buffer => readFileSync(path.join(dest, 'blobs', ...digest.split(':')));
      const manifest = JSON.parse(blob(index.manifests[0].digest).toString());
      const layer = blob(manifest.layers[0].digest);
      return { blob: layer, tar: gunzipSync(layer) };
    };
    const byDefault = layerOf('default', []);
    expect(byDefault.blob.equals(reference(byDefault.tar, 4))).toBe(true);
    const best = layerOf('best', ['--compression-level', '9']);
    expect(best.tar.equals(byDefault.tar)).toBe(true);
    expect(best.blob.equals(reference(best.tar, 9))).toBe(true);
    expect(best.blob.length).toBeLessThan(byDefault.blob.length);
    // Kaniko's -1 asks for the default.
    expect(layerOf('kaniko-default', ['--compression-level=-1']).blob.equals(byDefault.blob)).toBe(true);
    // From the cache of the level-9 build, at level 1: the step is not run again, its blob is reused as stored.
    expect(layerOf('cached', ['--compression-level', '1'], 'best').blob.equals(best.blob)).toBe(true);

    const bad = hoist(['build', context, '--output', `type=oci-layout,dest=${path.join(out, 'bad')}`, '--compression-level', '10']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--compression-level "10" is not a gzip level');
    // The hint names the default these bytes were checked at.
    expect(bad.stderr).toContain('hint: give a whole number from 0 (no compression) to 9 (smallest layers); the default, 4,');
  });

  it('compresses layers on threads 10 below its own priority while the steps run (the bundle finds the worker)', async () => {
    // 48 MiB of text and noise, compressed while a RUN sleeps: the threads live for seconds, which polling every 10 ms cannot miss.
    const context = makeContext({ Dockerfile: 'FROM scratch\nCOPY bin /bin\nCOPY data /data\nRUN ["/bin/busybox", "sleep", "2"]\n', data: mixed(48 << 20).toString('latin1') });
    mkdirSync(path.join(context, 'bin'));
    copyFileSync(await busyboxBinary(), path.join(context, 'bin', 'busybox'));
    const out = tempDir('hoist-cli-nice-');
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'dist/bin/hoist.cjs'), 'build', context, '--output', `type=oci-layout,dest=${path.join(out, 'layout')}`, '--cache-dir', path.join(out, 'cache')], {
      stdio: 'ignore',
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const lowered = Math.min(19, getPriority() + 10);
    const seen = new Set<number>();
    let running = true;
    void exited.then(() => (running = false));
    while (running) {
      for (const [tid, nice] of await threadNices(child.pid as number)) if (nice === lowered) seen.add(tid);
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(await exited).toBe(0);
    expect(seen.size).toBeGreaterThan(0);
  });

  it('exits 2 on a compression level that is not gzip\'s, unless Kaniko\'s --compression zstd says it is zstd\'s', () => {
    const context = makeContext({ Dockerfile: 'FROM scratch\nCOPY a /a\n', a: 'a' });
    const out = tempDir('hoist-cli-zstd-');
    const bad = hoist(['build', context, '--output', `type=oci-layout,dest=${path.join(out, 'bad')}`, '--compression-level', '15']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--compression-level "15" is not a gzip level');
    const zstd = hoist(['build', context, '--output', `type=oci-layout,dest=${path.join(out, 'zstd')}`, '--cache-dir', path.join(out, 'cache'), '--compression', 'zstd', '--compression-level', '15']);
    expect(zstd.status, zstd.stderr).toBe(0);
    expect(zstd.stderr).toContain("note: --compression zstd is accepted for Kaniko compatibility; hoist writes gzip layers, at its default level (a --compression-level given with it is zstd's)");
  });

  it('exits 2 without an output, or with a bad one', () => {
    expect(hoist(['build', 'testdata/examples/hello']).status).toBe(2);
    const bad = hoist(['build', 'testdata/examples/hello', '--output', 'type=zip,dest=x']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('unknown or missing type "zip"');
  });

  it('a bad tag exits 1 and names it', () => {
    const r = hoist(['build', 'testdata/examples/hello', '-t', 'UPPER:case', '--output', 'type=oci,dest=/tmp/never.tar']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('invalid tag "UPPER:case"');
    expect(existsSync('/tmp/never.tar')).toBe(false);
  });
});
