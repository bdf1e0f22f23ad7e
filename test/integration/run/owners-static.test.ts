/**
 * chown by a statically linked program under proot, where hoist records
 * owners through fakeroot: in a Debian minbase image (debootstrap, cached)
 * with busybox-static's busybox copied in, built by hoist running as nobody
 * (no subordinate ids, so the proot runner fakes root over one uid and
 * fakeroot records what chown sets). coreutils' chown is recorded; a static
 * busybox chown, called by its path or through a link found in PATH, would
 * reach nobody's record (proot fakes its success), so the step is refused
 * before it runs with the path named. build() is bundled with esbuild so
 * that a plain `node` run as nobody can load it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, realpath, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeRootfs } from '../../../snapshot/rootfs/index.js';
import { debianMinbaseImage } from '../../helpers/debian-image.js';
import { readOciLayout, type ReadImage, type TarMember } from '../../helpers/oci-reader.js';
import { ensureDebianPackages } from '../../helpers/packages.js';

const REPO = path.resolve(import.meta.dirname, '../../..');
const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;

let work: string;
let driver: string;
let context: string;
let baseLayout: string;

beforeAll(async () => {
  if (!asRoot) return;
  await ensureDebianPackages(['proot', 'fakeroot', 'busybox-static']);
  const debian = await debianMinbaseImage();
  const runRoot = tmpdir();
  await chmod(runRoot, 0o711);
  work = await mkdtemp(path.join(runRoot, 'hoist-owners-static-'));
  await chmod(work, 0o755);
  // The cached layout is under root's home: a copy nobody can read.
  baseLayout = path.join(work, 'debian');
  execFileSync('cp', ['-a', debian.layout, baseLayout]);
  const entry = path.join(work, 'driver-src.ts');
  await writeFile(
    entry,
    `import { build } from ${JSON.stringify(path.join(REPO, 'src/builder/executor/build.ts'))};
import { BlobStore, OciLayout } from ${JSON.stringify(path.join(REPO, 'src/oci/index.ts'))};
const [contextDir, dockerfileText, out, store, base] = process.argv.slice(2);
const layout = new OciLayout(base);
try {
  await build({
    contextDir, dockerfileText, dockerfile: contextDir + '/Dockerfile', buildArgs: new Map(),
    buildPlatform: { os: 'linux', architecture: 'amd64' }, targetPlatform: { os: 'linux', architecture: 'amd64' },
    store: new BlobStore(store), outputs: [{ type: 'oci-layout', dest: out }], tags: ['owners:static'], epoch: 0,
    images: { image: (_ref, platform) => layout.image(undefined, platform) },
    isolation: 'proot', toolPath: process.env.PATH,
  });
  console.log(JSON.stringify({ ok: true }));
} catch (err) {
  console.log(JSON.stringify({ ok: false, code: err.code, message: err.message, hint: err.hint }));
}
`,
  );
  driver = path.join(work, 'driver.mjs');
  await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', outfile: driver, logLevel: 'silent', packages: 'external' });
  await symlink(await realpath(path.join(REPO, 'node_modules')), path.join(work, 'node_modules'));
  context = path.join(work, 'context');
  await mkdir(context);
  await copyFile('/bin/busybox', path.join(context, 'busybox'));
  await chmod(path.join(context, 'busybox'), 0o755);
  execFileSync('chmod', ['-R', 'a+rX', work]);
}, 30 * 60_000);

afterAll(async () => {
  if (work !== undefined) await removeRootfs(work);
});

interface Outcome {
  ok: boolean;
  code?: string;
  message?: string;
  hint?: string;
  image?: ReadImage;
}

/** Build `FROM debian`, busybox-static's busybox in /bin, then `lines`, as nobody under proot. */
async function buildAsNobody(lines: string[]): Promise<Outcome> {
  const dir = await mkdtemp(path.join(work, 'build-'));
  await mkdir(path.join(dir, 'tmp'));
  await mkdir(path.join(dir, 'store'));
  execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, dir]);
  const dockerfile = ['FROM debian', 'COPY busybox /bin/busybox', ...lines].join('\n');
  const out = path.join(dir, 'layout');
  const r = spawnSync(
    'setpriv',
    [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', 'env', '-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', `TMPDIR=${path.join(dir, 'tmp')}`, process.execPath, driver, context, dockerfile, out, path.join(dir, 'store'), baseLayout],
    { encoding: 'utf8', cwd: work, timeout: 20 * 60_000 },
  );
  if (r.stdout.trim() === '') throw new Error(`the driver printed nothing: ${r.stderr}`);
  const outcome = JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as Outcome;
  if (outcome.ok) outcome.image = await readOciLayout(out);
  await removeRootfs(dir);
  return outcome;
}

function owners(layer: TarMember[] | undefined, names: string[]): string[] {
  return names.map((n) => {
    const m = layer?.find((x) => x.name === n);
    return m === undefined ? `${n} missing` : `${m.type} ${n} ${m.uid}:${m.gid}`;
  });
}

describe.runIf(asRoot)('chown by a static program under proot with fakeroot (Debian minbase, hoist as nobody)', () => {
  it('records what coreutils\' chown sets, though the image has a static busybox too', async () => {
    const r = await buildAsNobody(['RUN touch /f && mkdir /d && chown 1000:1000 /f && chown 1234:2345 /d']);
    expect(r.ok, `${r.message}\n${r.hint}`).toBe(true);
    const image = r.image as ReadImage;
    expect(owners(image.layers.at(-1), ['f', 'd/'])).toEqual(['file f 1000:1000', 'directory d/ 1234:2345']);
    // /bin is a link to usr/bin in Debian (merged /usr).
    expect(owners(image.layers.at(-2), ['usr/bin/busybox'])).toEqual(['file usr/bin/busybox 0:0']);
  }, 30 * 60_000);

  it('refuses `/bin/busybox chown` before the step runs, naming the path and what to do', async () => {
    const r = await buildAsNobody(['RUN touch /f && /bin/busybox chown 1000:1000 /f']);
    expect(r).toMatchObject({ ok: false, code: 'RUN_OWNERS_UNRECORDABLE' });
    expect(r.message).toMatch(/\/Dockerfile:3: the owners this step sets cannot be kept: it runs \/bin\/busybox \(which is \/usr\/bin\/busybox in the image\), which is statically linked\./);
    expect(r.hint).toMatch(/use the image's dynamically linked chown .* instead of \/bin\/busybox; or build as root \(--isolation chroot\)/);
  }, 30 * 60_000);

  it('refuses a chown that PATH finds as a link to the static busybox', async () => {
    const r = await buildAsNobody(['RUN ln -s /bin/busybox /usr/local/bin/chown', 'RUN touch /f && chown 1000:1000 /f']);
    expect(r).toMatchObject({ ok: false, code: 'RUN_OWNERS_UNRECORDABLE' });
    expect(r.message).toMatch(/\/Dockerfile:4: .*it runs chown \(found in PATH at \/usr\/local\/bin\/chown, which is \/usr\/bin\/busybox in the image\), which is statically linked/);
  }, 30 * 60_000);
});
