/**
 * Peers as oracles. What hoist writes (OCI archive, OCI layout,
 * docker-archive) must be read by skopeo and umoci exactly as hoist
 * reported it; what umoci and skopeo write must be read by hoist's own
 * sources (OciLayout, OciArchive, DockerArchive) exactly as an independent
 * reader sees it.
 */
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, linkSync, mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build, type BuildResult } from '../../src/builder/executor/build.js';
import { BlobStore, DockerArchive, OciArchive, OciLayout, parseReference, type Image } from '../../src/oci/index.js';
import { buildCli, hoist, REPO_ROOT } from '../helpers/cli.js';
import { buildImage, fileWriter, tempDir } from '../helpers/build.js';
import { readDockerArchive, readOciArchive, readOciLayout, readTar, sha256, type ReadImage, type TarMember } from '../helpers/oci-reader.js';
import { AMD64 } from '../helpers/plan.js';
import { execOk } from '../helpers/peers/exec.js';
import { mergeLayers, type FsEntry } from '../helpers/peers/image-model.js';
import { ensureDebianPackages } from '../helpers/packages.js';
import { readRootfs } from '../helpers/peers/rootfs.js';
import { writeTar } from '../helpers/peers/tarball.js';

const T = 1_600_000_000;
const EPOCH = 1_700_000_000;
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

const skopeo = (...args: string[]): Promise<string> => execOk('skopeo', ['--insecure-policy', ...args]);
const umoci = (...args: string[]): Promise<string> => execOk('umoci', args);
const skopeoJson = async (...args: string[]): Promise<any> => JSON.parse(await skopeo(...args));

const DOCKERFILE = `# An image with a bit of everything a COPY/ADD-only build can make.
FROM scratch AS parts
COPY --chown=7:8 stage-file /made/by/stage

FROM scratch
COPY etc/ /etc/
COPY --chmod=4755 tool /usr/local/bin/tool
COPY shared /srv/shared
COPY sticky /srv/sticky
COPY --chown=1000:1000 app/ /app/
ADD rootfs.tar /
COPY --from=parts /made /made
COPY config-v2.txt /app/config.txt
LABEL org.opencontainers.image.title="oracle" com.example.words="two words"
ENV A=1 B="two words"
EXPOSE 8080 53/udp
VOLUME /data
USER 1000:1000
WORKDIR /app
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --retries=2 CMD ["/usr/local/bin/tool", "--health"]
ENTRYPOINT ["/usr/local/bin/tool"]
CMD ["--serve"]
`;

/** The build context: modes, setuid/setgid/sticky, symlinks, hardlinks, and a tar with owners. */
async function makeOracleContext(): Promise<string> {
  const ctx = tempDir('peer-oracle-ctx-');
  const file = fileWriter(ctx, T);
  writeFileSync(path.join(ctx, 'Dockerfile'), DOCKERFILE);
  file('stage-file', 'from another stage\n', 0o600);
  file('etc/passwd', 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n');
  file('etc/group', 'root:x:0:\napp:x:1000:\n');
  file('tool', '#!/bin/sh\necho tool\n', 0o755);
  file('shared', 'setgid file\n', 0o2775);
  mkdirSync(path.join(ctx, 'sticky'));
  file('sticky/keep', 'k\n');
  chmodSync(path.join(ctx, 'sticky'), 0o1777);
  file('app/config.txt', 'version 1\n', 0o640);
  file('app/bin/run', '#!/bin/sh\nexit 0\n', 0o750);
  const one = file('app/one', 'one inode, two names\n');
  linkSync(one, path.join(ctx, 'app', 'two'));
  symlinkSync('config.txt', path.join(ctx, 'app', 'link-rel'));
  symlinkSync('/etc/passwd', path.join(ctx, 'app', 'link-abs'));
  file('config-v2.txt', 'version 2\n', 0o644);
  await writeTar(path.join(ctx, 'rootfs.tar'), [
    { name: 'opt/', type: 'directory', mode: 0o755 },
    { name: 'opt/data/', type: 'directory', mode: 0o750, uid: 33, gid: 33 },
    { name: 'opt/data/x', mode: 0o640, uid: 33, gid: 33, content: 'owned by www-data\n' },
    { name: 'opt/data/x-again', type: 'link', mode: 0o640, uid: 33, gid: 33, linkname: 'opt/data/x' },
    { name: 'opt/current', type: 'symlink', mode: 0o777, uid: 5, gid: 5, linkname: 'data' },
    { name: 'opt/setgid-dir/', type: 'directory', mode: 0o2755, uid: 0, gid: 50 },
  ]);
  utimesSync(path.join(ctx, 'rootfs.tar'), T, T);
  return ctx;
}

let ctx: string;
let work: string;
let result: BuildResult;
let archive: string;
let layout: string;
let dockerTar: string;
let image: ReadImage;
let fs: Map<string, FsEntry>;

beforeAll(async () => {
  await ensureDebianPackages(['skopeo', 'umoci']);
  ctx = await makeOracleContext();
  work = tempDir('peer-oracle-');
  archive = path.join(work, 'image.oci.tar');
  layout = path.join(work, 'layout');
  dockerTar = path.join(work, 'image.docker.tar');
  result = await build({
    contextDir: ctx,
    dockerfile: path.join(ctx, 'Dockerfile'),
    buildArgs: new Map(),
    buildPlatform: AMD64,
    targetPlatform: AMD64,
    store: new BlobStore(path.join(work, 'store')),
    outputs: [
      { type: 'oci', dest: archive },
      { type: 'oci-layout', dest: layout },
      { type: 'docker', dest: dockerTar },
    ],
    tags: ['localhost/oracle:v1'],
    epoch: EPOCH,
  });
  image = await readOciLayout(layout, 'v1');
  fs = mergeLayers(image.layers);
}, 15 * 60_000);

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
  await rm(ctx, { recursive: true, force: true });
});

/** What the image must hold, independent of any reader. */
function expectRepresentativeFiles(files: Map<string, FsEntry>): void {
  expect(files.get('usr/local/bin/tool')).toMatchObject({ type: 'file', mode: 0o4755, uid: 0, gid: 0 });
  expect(files.get('srv/shared')).toMatchObject({ type: 'file', mode: 0o2775 });
  // COPY creates a missing destination directory 0755, whatever the source's mode (fsutil's MkdirAll, as BuildKit).
  expect(files.get('srv/sticky')).toMatchObject({ type: 'dir', mode: 0o755 });
  expect(files.get('srv/sticky/keep')).toMatchObject({ type: 'file' });
  expect(files.get('app/config.txt')).toMatchObject({ type: 'file', mode: 0o644, uid: 0, gid: 0, sha256: createHash('sha256').update('version 2\n').digest('hex') });
  expect(files.get('app/bin/run')).toMatchObject({ type: 'file', mode: 0o750, uid: 1000, gid: 1000 });
  expect(files.get('app/link-rel')).toMatchObject({ type: 'symlink', linkname: 'config.txt', uid: 1000 });
  expect(files.get('app/link-abs')).toMatchObject({ type: 'symlink', linkname: '/etc/passwd' });
  expect(files.get('app/one')?.links).toEqual(['app/one', 'app/two']);
  expect(files.get('opt/data')).toMatchObject({ type: 'dir', mode: 0o750, uid: 33, gid: 33 });
  expect(files.get('opt/data/x')).toMatchObject({ type: 'file', mode: 0o640, uid: 33, gid: 33, links: ['opt/data/x', 'opt/data/x-again'] });
  expect(files.get('opt/current')).toMatchObject({ type: 'symlink', linkname: 'data', uid: 5, gid: 5 });
  expect(files.get('opt/setgid-dir')).toMatchObject({ type: 'dir', mode: 0o2755, gid: 50 });
  expect(files.get('made/by/stage')).toMatchObject({ type: 'file', mode: 0o600, uid: 7, gid: 8, mtime: T });
}

describe('what hoist writes, as hoist itself reports it', () => {
  it('has the representative content', () => {
    expectRepresentativeFiles(fs);
    expect(image.manifestDigest).toBe(result.digest);
    expect(image.layers.length).toBeGreaterThanOrEqual(7);
  });
});

describe('skopeo reads hoist images', () => {
  it('inspect --raw: the manifest skopeo sees is the one hoist reported (oci-archive and oci layout)', async () => {
    const fromArchive = await skopeo('inspect', '--raw', `oci-archive:${archive}`);
    const fromLayout = await skopeo('inspect', '--raw', `oci:${layout}:v1`);
    expect(sha256(Buffer.from(fromArchive))).toBe(result.digest);
    expect(sha256(Buffer.from(fromLayout))).toBe(result.digest);
    expect(Buffer.from(fromLayout)).toEqual(await result.image.rawManifest());
  });

  it('inspect --raw on the docker-archive: same config blob, layers are the uncompressed diffs', async () => {
    const raw = JSON.parse(await skopeo('inspect', '--raw', `docker-archive:${dockerTar}`));
    const ours = await result.image.manifest();
    expect(raw.config.digest).toBe(ours.config.digest);
    expect(raw.layers.map((l: { digest: string }) => l.digest)).toEqual(image.config.rootfs.diff_ids);
  });

  it('inspect --config --raw: every transport yields hoist\'s config bytes', async () => {
    const ours = await result.image.rawConfigFile();
    const configDigest = (await result.image.manifest()).config.digest;
    for (const ref of [`oci-archive:${archive}`, `oci:${layout}:v1`, `docker-archive:${dockerTar}`]) {
      const raw = Buffer.from(await skopeo('inspect', '--config', '--raw', ref));
      expect(sha256(raw), ref).toBe(configDigest);
      expect(raw.equals(ours), ref).toBe(true);
    }
    const parsed = JSON.parse(ours.toString('utf8'));
    expect(parsed.config.Healthcheck).toEqual({ Test: ['CMD', '/usr/local/bin/tool', '--health'], Interval: 30e9, Retries: 2 });
    expect(parsed.config.User).toBe('1000:1000');
  });

  it('inspect --config: skopeo\'s parsed view (image-spec fields only) matches', async () => {
    const { Healthcheck: _h, ...specFields } = image.config.config;
    for (const ref of [`oci-archive:${archive}`, `oci:${layout}:v1`]) {
      expect(await skopeoJson('inspect', '--config', ref), ref).toEqual({ ...image.config, config: specFields });
    }
  });

  it('inspect: digest, platform, labels, env and layer list agree', async () => {
    const info = await skopeoJson('inspect', `oci-archive:${archive}`);
    const manifest = await result.image.manifest();
    expect(info.Digest).toBe(result.digest);
    expect(info.Architecture).toBe('amd64');
    expect(info.Os).toBe('linux');
    expect(info.Labels).toEqual({ 'org.opencontainers.image.title': 'oracle', 'com.example.words': 'two words' });
    expect(info.Env).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'A=1', 'B=two words']);
    expect(info.Layers).toEqual(manifest.layers.map((l) => l.digest));
  });

  it('skopeo copy oci-archive -> oci keeps the manifest byte for byte', async () => {
    const dest = path.join(work, 'copied-from-archive');
    await skopeo('copy', `oci-archive:${archive}`, `oci:${dest}:copied`);
    const copied = await readOciLayout(dest, 'copied');
    expect(copied.manifestDigest).toBe(result.digest);
    expect(copied.config).toEqual(image.config);
    expect(mergeLayers(copied.layers)).toEqual(fs);
  });

  it('skopeo copy docker-archive -> oci keeps the config (less Docker-only fields) and the diffs', async () => {
    const dest = path.join(work, 'copied-from-docker');
    await skopeo('copy', `docker-archive:${dockerTar}`, `oci:${dest}:copied`);
    const copied = await readOciLayout(dest, 'copied');
    // The Docker -> OCI manifest conversion re-marshals the config as an image-spec config, dropping Healthcheck.
    const { Healthcheck: _h, ...specFields } = image.config.config;
    expect(copied.config).toEqual({ ...image.config, config: specFields });
    expect(copied.config.rootfs.diff_ids).toEqual(image.config.rootfs.diff_ids);
    expect(mergeLayers(copied.layers)).toEqual(fs);
  });

  it('skopeo copy docker-archive -> oci: without Docker-only fields, Go re-marshals hoist\'s config to the same bytes', async () => {
    const small = await buildImage('FROM scratch\nCOPY app/ /app/\nENV A=1\nLABEL k=v\nEXPOSE 80\nUSER 1:2\nCMD ["x"]\n', ctx, {
      epoch: EPOCH,
      outputs: [{ type: 'docker', dest: path.join(work, 'small.docker.tar') }],
    });
    const dest = path.join(work, 'small-copied');
    await skopeo('copy', `docker-archive:${path.join(work, 'small.docker.tar')}`, `oci:${dest}:copied`);
    const copied = await readOciLayout(dest, 'copied');
    expect(copied.manifest.config.digest).toBe(small.image.manifest.config.digest);
    expect(copied.config.rootfs.diff_ids).toEqual(small.image.config.rootfs.diff_ids);
  });

  it('the docker-archive itself reads back with the same files and config', async () => {
    const d = await readDockerArchive(dockerTar);
    expect(d.manifest[0]?.RepoTags).toEqual(['localhost/oracle:v1']);
    expect(d.config).toEqual(image.config);
    expect(mergeLayers(d.layers)).toEqual(fs);
  });
});

describe('umoci reads hoist images', () => {
  it.runIf(isRoot)('umoci unpack (as root, keeping owners) gives exactly the image\'s files', async () => {
    const bundle = path.join(work, 'bundle');
    await umoci('unpack', '--image', `${layout}:v1`, bundle);
    const rootfs = await readRootfs(path.join(bundle, 'rootfs'));
    expectRepresentativeFiles(rootfs);
    const expected = new Map(fs);
    for (const [p, e] of expected) {
      const got = rootfs.get(p);
      expect(got, `${p} missing from umoci's rootfs`).toBeDefined();
      const { mtime: _m, ...rest } = e;
      // Directory mtimes move when children are created; file and symlink mtimes are restored.
      expect(got, p).toMatchObject(e.type === 'dir' ? rest : e);
    }
    expect([...rootfs.keys()].filter((p) => !expected.has(p))).toEqual([]);
  });

  it.runIf(isRoot)('umoci turns the image config into the runtime config hoist meant', async () => {
    const bundle = path.join(work, 'bundle-config');
    await umoci('unpack', '--image', `${layout}:v1`, bundle);
    const spec = JSON.parse(readFileSync(path.join(bundle, 'config.json'), 'utf8'));
    expect(spec.process.args).toEqual(['/usr/local/bin/tool', '--serve']);
    expect(spec.process.cwd).toBe('/app');
    expect(spec.process.user).toMatchObject({ uid: 1000, gid: 1000 });
    expect(spec.process.env).toEqual(expect.arrayContaining(['A=1', 'B=two words']));
    expect(spec.annotations).toMatchObject({
      'org.opencontainers.image.architecture': 'amd64',
      'org.opencontainers.image.os': 'linux',
      'org.opencontainers.image.stopSignal': 'SIGTERM',
      'org.opencontainers.image.title': 'oracle',
      'com.example.words': 'two words',
    });
    expect(spec.annotations['org.opencontainers.image.exposedPorts'].split(',').sort()).toEqual(['53/udp', '8080/tcp']);
    expect(spec.mounts.map((m: { destination: string }) => m.destination)).toContain('/data');
  });

  it('umoci stat lists hoist\'s history', async () => {
    const stat = JSON.parse(await umoci('stat', '--image', `${layout}:v1`, '--json'));
    const createdBy = (stat.history as Array<{ created_by?: string }>).map((h) => h.created_by ?? '');
    expect(createdBy.length).toBe(image.config.history.length);
    expect(createdBy.some((c) => c.includes('COPY'))).toBe(true);
  });
});

describe('the CLI writes what skopeo reads', () => {
  it('hoist build --output type=oci and type=docker: digest on stdout and in --digest-file match skopeo', async () => {
    try {
      buildCli();
    } catch (err) {
      // Other work in progress may not typecheck; tsc still emits, which is all this needs.
      if (!existsSync(path.join(REPO_ROOT, 'dist', 'cmd', 'hoist.js'))) throw err;
    }
    const out = tempDir('peer-oracle-cli-');
    const ociTar = path.join(out, 'cli.oci.tar');
    const dockerOut = path.join(out, 'cli.docker.tar');
    const digestFile = path.join(out, 'digest');
    const r = hoist(
      ['build', ctx, '-f', path.join(ctx, 'Dockerfile'), '-t', 'localhost/oracle:v1', '--output', `type=oci,dest=${ociTar}`, '--output', `type=docker,dest=${dockerOut}`, '--digest-file', digestFile, '--cache-dir', path.join(out, 'cache')],
      { env: { SOURCE_DATE_EPOCH: String(EPOCH) } },
    );
    expect(r.status, r.stderr).toBe(0);
    const digest = r.stdout.trim();
    expect(readFileSync(digestFile, 'utf8').trim()).toBe(digest);
    expect(sha256(Buffer.from(await skopeo('inspect', '--raw', `oci-archive:${ociTar}`)))).toBe(digest);
    // Same context, Dockerfile, platform and SOURCE_DATE_EPOCH: the CLI and the library agree to the byte.
    if (process.arch === 'x64') expect(digest).toBe(result.digest);
    const info = await skopeoJson('inspect', `docker-archive:${dockerOut}`);
    expect(info.Labels['org.opencontainers.image.title']).toBe('oracle');
    await rm(out, { recursive: true, force: true });
  }, 300_000);
});

/** Everything hoist's Image says, checked against the independent reader's view of the same source. */
async function expectSameImage(img: Image, ref: ReadImage | { config: any; layers: TarMember[][] }, opts: { manifestDigest?: string; layerDigests?: string[] }): Promise<void> {
  const cfg = await img.configFile();
  expect(cfg).toEqual(ref.config);
  const rawCfg = await img.rawConfigFile();
  const manifest = await img.manifest();
  expect(sha256(rawCfg)).toBe(manifest.config.digest);
  expect(rawCfg.length).toBe(manifest.config.size);
  if (opts.manifestDigest) {
    expect(await img.digest()).toBe(opts.manifestDigest);
    expect(sha256(await img.rawManifest())).toBe(opts.manifestDigest);
  }
  const layers = await img.layers();
  expect(layers.length).toBe(ref.layers.length);
  const tars: TarMember[][] = [];
  for (const [i, layer] of layers.entries()) {
    expect(await layer.diffId()).toBe(cfg.rootfs.diff_ids[i]);
    expect(await layer.digest()).toBe(manifest.layers[i]?.digest);
    if (opts.layerDigests) expect(await layer.digest()).toBe(opts.layerDigests[i]);
    tars.push(await readTar(await layer.uncompressed()));
  }
  expect(mergeLayers(tars)).toEqual(mergeLayers(ref.layers));
}

describe('hoist reads images umoci and skopeo wrote', () => {
  let L: string;
  let populated: Map<string, FsEntry>;

  beforeAll(async () => {
    L = path.join(work, 'umoci-layout');
    const bundle = path.join(work, 'umoci-bundle');
    await umoci('init', '--layout', L);
    await umoci('new', '--image', `${L}:base`);
    await umoci('unpack', ...(isRoot ? [] : ['--rootless']), '--image', `${L}:base`, bundle);
    const root = path.join(bundle, 'rootfs');
    const put = (rel: string, content: string, mode: number, owner?: [number, number]): string => {
      const abs = path.join(root, rel);
      mkdirSync(path.dirname(abs), { recursive: true });
      writeFileSync(abs, content);
      chmodSync(abs, mode);
      if (owner && isRoot) chownSync(abs, owner[0], owner[1]);
      return abs;
    };
    put('bin/app', '#!/bin/sh\necho app\n', 0o4755);
    put('etc/app.conf', 'key=value\n', 0o640, [33, 33]);
    const big = put('var/lib/app/blob', 'x'.repeat(100_000), 0o644, [1000, 1000]);
    linkSync(big, path.join(root, 'var/lib/app/blob-link'));
    symlinkSync('../../etc/app.conf', path.join(root, 'var/lib/conf'));
    mkdirSync(path.join(root, 'tmp'), { recursive: true });
    chmodSync(path.join(root, 'tmp'), 0o1777);
    await umoci('repack', '--image', `${L}:base`, bundle);
    await umoci('config', '--image', `${L}:base`, '--config.cmd', '/bin/app', '--config.env', 'MODE=peer', '--config.label', 'made.by=umoci', '--config.workingdir', '/var/lib/app');
    populated = await readRootfs(root);
  }, 300_000);

  it('OciLayout: the umoci layout reads as the independent reader sees it', async () => {
    const ref = await readOciLayout(L, 'base');
    const img = await new OciLayout(L).image('base');
    await expectSameImage(img, ref, { manifestDigest: ref.manifestDigest, layerDigests: ref.manifest.layers.map((l: { digest: string }) => l.digest) });
    const cfg = await img.configFile();
    expect(cfg.config?.Cmd).toEqual(['/bin/app']);
    expect(cfg.config?.Labels).toEqual({ 'made.by': 'umoci' });
    const files = mergeLayers(ref.layers);
    expect(files.get('bin/app')).toMatchObject({ mode: 0o4755 });
    expect(files.get('var/lib/conf')).toMatchObject({ type: 'symlink', linkname: '../../etc/app.conf' });
    expect(files.get('var/lib/app/blob')?.links).toEqual(['var/lib/app/blob', 'var/lib/app/blob-link']);
    if (isRoot) expect(files.get('etc/app.conf')).toMatchObject({ uid: 33, gid: 33, mode: 0o640 });
    // And it is the tree that was packed (umoci 0.4 rounds mtimes to the second, so those are left out).
    for (const [p, e] of files) {
      const { mtime: _m, ...rest } = e;
      expect(populated.get(p), p).toMatchObject(rest);
    }
  });

  it('OciArchive: skopeo copy oci -> oci-archive, read by hoist', async () => {
    const A = path.join(work, 'umoci.oci.tar');
    await skopeo('copy', `oci:${L}:base`, `oci-archive:${A}:base`);
    const ref = await readOciArchive(A);
    const img = await new OciArchive(A).image();
    await expectSameImage(img, ref, { manifestDigest: ref.manifestDigest });
    expect(await img.digest()).toBe((await readOciLayout(L, 'base')).manifestDigest);
  });

  it('DockerArchive: skopeo copy oci -> docker-archive, read by hoist (layers re-served gzip, diffs unchanged)', async () => {
    const D = path.join(work, 'umoci.docker.tar');
    await skopeo('copy', `oci:${L}:base`, `docker-archive:${D}:localhost/umoci:base`);
    const ref = await readDockerArchive(D);
    const raw = JSON.parse(await skopeo('inspect', '--raw', `docker-archive:${D}`));
    for (const selector of [undefined, 'localhost/umoci:base']) {
      const img = selector ? await new DockerArchive(D).image(parseReference(selector)) : await new DockerArchive(D).image();
      await expectSameImage(img, ref, {});
      expect((await img.manifest()).config.digest).toBe(raw.config.digest);
    }
    const asIs = await new DockerArchive(D, { layers: 'as-is' }).image();
    const layers = await asIs.layers();
    expect(await Promise.all(layers.map((l) => l.digest()))).toEqual(raw.layers.map((l: { digest: string }) => l.digest));
  });

  it('round trip: hoist writes the umoci image to its own sinks and skopeo agrees', async () => {
    const img = await new OciLayout(L).image('base');
    const out = path.join(work, 'roundtrip');
    const refs = [parseReference('localhost/roundtrip:v2')];
    const digest = await new OciLayout(out).write(img, refs);
    expect(digest).toBe(await img.digest());
    expect(sha256(Buffer.from(await skopeo('inspect', '--raw', `oci:${out}:v2`)))).toBe(digest);
    const tarOut = path.join(work, 'roundtrip.oci.tar');
    await new OciArchive(tarOut).write(img, refs);
    expect(sha256(Buffer.from(await skopeo('inspect', '--raw', `oci-archive:${tarOut}`)))).toBe(digest);
    const dockerOut = path.join(work, 'roundtrip.docker.tar');
    await new DockerArchive(dockerOut).write(img, refs);
    expect(await skopeoJson('inspect', '--config', `docker-archive:${dockerOut}`)).toEqual(await img.configFile());
  });
});
