/**
 * hoist's build() run as an ordinary user (nobody, hoist-rootless) through
 * util-linux `setpriv`, the test itself running as root: build() is bundled
 * with esbuild so that a plain `node` run as that user can load it, and the
 * image is read back as root.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, realpath, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { removeRootfs } from '../../snapshot/rootfs/index.js';
import { REPO_ROOT } from './cli.js';
import { readOciLayout, type ReadImage } from './oci-reader.js';

/** What a build run as another user ended with: the error's code, message and hint, or the image. */
export interface UnprivilegedOutcome {
  ok: boolean;
  code?: string;
  message?: string;
  hint?: string;
  /** The build's warning and note events. */
  warnings: string[];
  image?: ReadImage;
}

export interface UnprivilegedBuild {
  contextDir: string;
  /** The Dockerfile's text. */
  dockerfile: string;
  isolation: string;
  tag: string;
  /** An OCI layout whose image every FROM resolves to, instead of a registry. */
  baseLayout?: string;
}

/** The driver's source: one build to an OCI layout, described by a JSON argument, its outcome printed as JSON. */
const DRIVER_SOURCE = `import { build } from ${JSON.stringify(path.join(REPO_ROOT, 'src/builder/executor/build.ts'))};
import { BlobStore, OciLayout } from ${JSON.stringify(path.join(REPO_ROOT, 'src/oci/index.ts'))};
const { contextDir, dockerfile, out, store, isolation, tag, baseLayout } = JSON.parse(process.argv[2]);
const base = baseLayout === undefined ? undefined : new OciLayout(baseLayout);
const warnings = [];
try {
  await build({
    contextDir, dockerfileText: dockerfile, dockerfile: contextDir + '/Dockerfile', buildArgs: new Map(),
    buildPlatform: { os: 'linux', architecture: 'amd64' }, targetPlatform: { os: 'linux', architecture: 'amd64' },
    store: new BlobStore(store), outputs: [{ type: 'oci-layout', dest: out }], tags: [tag], epoch: 0,
    ...(base === undefined ? {} : { images: { image: (_ref, platform) => base.image(undefined, platform) } }),
    isolation, toolPath: process.env.PATH,
    onEvent: (e) => { if (e.type === 'warning' || e.type === 'note') warnings.push(e.message); },
  });
  console.log(JSON.stringify({ ok: true, warnings }));
} catch (err) {
  console.log(JSON.stringify({ ok: false, code: err.code, message: err.message, hint: err.hint, warnings }));
}
`;

/** A scratch directory that other users can pass through, with the bundled driver in it; `dispose` removes it. */
export class UnprivilegedBuilder {
  private constructor(
    /** Scratch space for the test (contexts, base layouts), readable by the users it builds as once the test makes it so. */
    readonly work: string,
    private readonly driver: string,
  ) {}

  static async create(prefix: string): Promise<UnprivilegedBuilder> {
    // The test run's temp root is private to root; the build's user needs to pass through it.
    const runRoot = tmpdir();
    await chmod(runRoot, 0o711);
    const work = await mkdtemp(path.join(runRoot, prefix));
    await chmod(work, 0o755);
    const entry = path.join(work, 'driver-src.ts');
    await writeFile(entry, DRIVER_SOURCE);
    const driver = path.join(work, 'driver.mjs');
    await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', outfile: driver, logLevel: 'silent', packages: 'external' });
    await symlink(await realpath(path.join(REPO_ROOT, 'node_modules')), path.join(work, 'node_modules'));
    return new UnprivilegedBuilder(work, driver);
  }

  /** Build as `user` (a uid or a user name) with a clean environment, in a directory of its own that is removed once the image is read. */
  async buildAs(user: string | number, b: UnprivilegedBuild): Promise<UnprivilegedOutcome> {
    const dir = await mkdtemp(path.join(this.work, 'build-'));
    await mkdir(path.join(dir, 'tmp'));
    await mkdir(path.join(dir, 'store'));
    execFileSync('chown', ['-R', `${user}:${user}`, dir]);
    const out = path.join(dir, 'layout');
    const args = { contextDir: b.contextDir, dockerfile: b.dockerfile, out, store: path.join(dir, 'store'), isolation: b.isolation, tag: b.tag, baseLayout: b.baseLayout };
    const r = spawnSync(
      'setpriv',
      [`--reuid=${user}`, `--regid=${user}`, '--clear-groups', 'env', '-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', `TMPDIR=${path.join(dir, 'tmp')}`, process.execPath, this.driver, JSON.stringify(args)],
      { encoding: 'utf8', cwd: this.work, timeout: 20 * 60_000 },
    );
    if (r.stdout.trim() === '') throw new Error(`the driver printed nothing: ${r.stderr}`);
    const outcome = JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as UnprivilegedOutcome;
    if (outcome.ok) outcome.image = await readOciLayout(out);
    await removeRootfs(dir);
    return outcome;
  }

  async dispose(): Promise<void> {
    await removeRootfs(this.work);
  }
}
