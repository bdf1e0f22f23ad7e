/**
 * The seed example (testdata/examples/git): `FROM debian` + `RUN apt-get
 * update && apt-get install -y git` + `ENTRYPOINT ["git"]`, built by the CLI
 * FROM a Debian minbase (debootstrap, cached) in the test registry, with the
 * runner `auto` picks here and with proot and chroot by name, pushed, and run
 * with podman: `podman run IMAGE --version` prints git's version.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/build.js';
import { buildCliAsync, REPO_ROOT } from '../helpers/cli.js';
import { debianMinbaseImage, pushDebianImage, type DebianImage } from '../helpers/debian-image.js';
import { ensureDebianPackages } from '../helpers/packages.js';
import { exec, execOk, type ExecResult } from '../helpers/peers/exec.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry/index.js';
import { PodmanSandbox, RESTRICTED_ROW } from '../helpers/podman-rows.js';

const EXAMPLE = path.join(REPO_ROOT, 'testdata/examples/git');
const CONTAINERS_CONF = path.resolve(REPO_ROOT, '../shared/testbed/containers.conf');
/** apt downloads and installs about 40 packages: minutes on a busy machine, more under proot. */
const BUILD_MS = 40 * 60_000;

let registry: RunningRegistry;
let debian: DebianImage;
let base: string;
let work: string;
/** podman refuses a runroot longer than 50 characters, which the test run's TMPDIR can make. */
let runroot: string;

const CLI = path.join(REPO_ROOT, 'dist/bin/hoist.cjs');

// Builds take minutes: the CLI and podman run asynchronously, so that the test worker stays responsive to vitest meanwhile.
function hoist(args: string[], timeoutMs: number): Promise<ExecResult> {
  return exec(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, timeoutMs });
}

function podman(args: string[]): Promise<ExecResult> {
  return exec('podman', ['--root', path.join(work, 'storage'), '--runroot', runroot, ...args], { env: { CONTAINERS_CONF }, timeoutMs: 15 * 60_000 });
}

interface ImageConfig {
  config: { Entrypoint?: string[]; Env?: string[] };
}

/** The image config and the path of the last layer's blob in the single-image OCI layout `dir`. */
async function readLayout(dir: string): Promise<{ config: ImageConfig; lastLayer: string }> {
  const blob = (digest: string) => path.join(dir, 'blobs', ...digest.split(':'));
  const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  expect(index.manifests).toHaveLength(1);
  const manifest = JSON.parse(await readFile(blob((index.manifests[0] as { digest: string }).digest), 'utf8')) as { config: { digest: string }; layers: { digest: string }[] };
  const config = JSON.parse(await readFile(blob(manifest.config.digest), 'utf8')) as ImageConfig;
  return { config, lastLayer: blob((manifest.layers.at(-1) as { digest: string }).digest) };
}

/** What `hoist doctor` says auto picks here for steps run as root. */
async function autoPick(): Promise<string> {
  const r = await hoist(['doctor', '--format', 'json'], 5 * 60_000);
  expect(r.status, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { auto: { root: { kind: string } } }).auto.root.kind;
}

beforeAll(async () => {
  await ensureDebianPackages(['podman', 'proot', 'skopeo', 'umoci', 'debootstrap', 'docker-registry']);
  await buildCliAsync();
  debian = await debianMinbaseImage();
  registry = await startRegistry();
  base = await pushDebianImage(debian, registry.host);
  work = tempDir('hoist-seed-');
  runroot = await mkdtemp(path.join(tmpdir().length < 30 ? tmpdir() : '/tmp', 'hoist-rr-'));
}, 45 * 60_000);

afterAll(async () => {
  if (work !== undefined) await podman(['system', 'reset', '-f']);
  if (runroot !== undefined) await rm(runroot, { recursive: true, force: true });
  await registry?.stop();
});

describe('the seed example: git from apt in a Debian minbase, run by podman', () => {
  it('has a base image whose apt uses the mirror this machine uses, and nothing of the host', async () => {
    expect(base).toBe(`${registry.host}/debian:${debian.suite}`);
    const { config, lastLayer } = await readLayout(debian.layout);
    expect(config.config.Env).toContain('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    const raw = (await execOk('tar', ['-tzf', lastLayer], { timeoutMs: 10 * 60_000 })).split('\n');
    const names = raw.map((n) => n.replace(/^\.\//, '').replace(/\/$/, ''));
    expect(names).toContain('usr/bin/apt-get');
    expect(names).toContain('etc/apt/apt.conf.d/docker-clean');
    expect(names.filter((n) => n.startsWith('dev/') || n === 'etc/resolv.conf' || n.endsWith('.deb') || n.startsWith('var/lib/apt/lists/deb'))).toEqual([]);
    const sources = await execOk('tar', ['-xzOf', lastLayer, raw[names.indexOf('etc/apt/sources.list')] as string], { timeoutMs: 10 * 60_000 });
    expect(sources.trim()).toBe(`deb ${debian.mirror} ${debian.suite} main`);
  });

  // auto picks chroot (with a mount namespace) as root here; proot is the restricted pod's runner. An explicit chroot would build the same thing twice.
  for (const isolation of ['auto', 'proot'] as const) {
    it(`builds with --isolation ${isolation}, and podman runs git --version`, async () => {
      const out = tempDir(`hoist-seed-${isolation}-`);
      const image = `${registry.host}/seed/git:${isolation}`;
      const layout = path.join(out, 'layout');
      const started = Date.now();
      const r = await hoist(
        ['build', EXAMPLE, '--build-arg', `BASE=${base}`, '--isolation', isolation, '-t', image, '--push', '--output', `type=oci-layout,dest=${layout}`,
          '--cache-dir', path.join(out, 'cache'), '--progress', 'plain'],
        BUILD_MS,
      );
      expect(r.status, r.stderr.slice(-6000)).toBe(0);
      console.log(`seed example, --isolation ${isolation}: built and pushed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      // The build says which runner ran the steps: for auto, the one `hoist doctor` names for root steps.
      expect(r.stderr).toContain(`RUN steps use --isolation ${isolation === 'auto' ? await autoPick() : isolation}: `);

      const { config, lastLayer } = await readLayout(layout);
      expect(config.config.Entrypoint).toEqual(['git']);
      const names = (await execOk('tar', ['-tzf', lastLayer], { timeoutMs: 10 * 60_000 })).split('\n').map((n) => n.replace(/^\.\//, '').replace(/\/$/, ''));
      expect(names).toContain('usr/bin/git');
      // Nothing the runner brought in reaches the layer, nor apt's downloads (the base image's docker-clean removes them).
      expect(names.filter((n) => /^(proc|sys|dev)\/./.test(n) || n === 'etc/resolv.conf' || n === 'etc/hosts' || n.endsWith('.deb'))).toEqual([]);
      // apt runs dpkg on a pty and logs what it printed: the step has ptys, as under runc (without them term.log holds two
      // lines). proot gives none (README).
      const termLog = await execOk('tar', ['-xzOf', lastLayer, 'var/log/apt/term.log'], { timeoutMs: 10 * 60_000 });
      if (isolation === 'auto') expect(termLog).toMatch(/^Setting up git /m);

      const run = await podman(['run', '--rm', '--tls-verify=false', image, '--version']);
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/^git version \d+\.\d+/);
    }, BUILD_MS + 15 * 60_000);
  }

  // The environment no peer builds in (../shared/TESTBED.md): Debian 12's proot 5.1 alone leaves faccessat2 untranslated
  // there, and apt-get update failed ("not readable by user _apt"); the steps go through hoist's syscall shim.
  it('builds in a restricted pod (uid 1000, all capabilities dropped, Docker\'s seccomp) with proot, and podman runs git --version', async () => {
    const sandbox = await PodmanSandbox.create('hoist-seed-pod-');
    try {
      const croot = await sandbox.makeContainerRoot(['ctx']);
      const image = `${registry.host}/seed/git:restricted-pod`;
      const row = { ...RESTRICTED_ROW, options: [...RESTRICTED_ROW.options, '--network', 'host'] };
      const r = sandbox.run(row, croot, [[EXAMPLE, '/ctx', 'ro']], ['node', '/hoist/dist/bin/hoist.cjs', 'build', '/ctx', '--build-arg', `BASE=${base}`, '-t', image, '--push', '--progress', 'plain'], {
        env: { HOME: '/tmp', HOIST_CACHE_DIR: '/tmp/hoist-cache', TMPDIR: '/tmp' },
      });
      expect(r.status, r.stderr.slice(-6000)).toBe(0);
      expect(r.stderr).toContain('RUN steps use --isolation proot: ');
      const run = await podman(['run', '--rm', '--tls-verify=false', image, '--version']);
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout).toMatch(/^git version \d+\.\d+/);
    } finally {
      await sandbox.dispose();
    }
  }, BUILD_MS + 15 * 60_000);
});
