/**
 * The same image in every environment hoist's users build in (the rows of
 * ../shared/TESTBED.md "Where hoist's users run it"): `hoist build
 * --isolation auto` of one busybox Dockerfile with RUN, in each row, and the
 * images compared entry for entry: type, name, mode, owner, link target,
 * content and mtime of every layer's tar headers, and the config.
 *
 * Times: the builds set SOURCE_DATE_EPOCH, so every mtime a step or the
 * context gives is clamped to it (BuildKit's rule) and mtimes are compared
 * too; with them the images must have the same digest.
 *
 * Each build also prints, from inside a RUN as root and as USER, its
 * environment, `ls -a /` and `id -G`: nothing of hoist's own environment
 * (its credentials, cache and dist paths) may be visible there, and nothing
 * the runner mounted may reach a layer.
 *
 * Known differences are listed below as expected failures (it.fails), each
 * with its reason; the rest is compared in every row.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, chown, link, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_GID, APP_UID, makeBusyboxRootfs, STAFF_GID } from '../helpers/busybox-rootfs.js';
import { buildCli, hoist, REPO_ROOT } from '../helpers/cli.js';
import { flatten, readOciArchive, type ReadImage, type TarMember } from '../helpers/oci-reader.js';
import { ensureDebianPackages } from '../helpers/packages.js';
import {
  ensureRootlessUser,
  FARGATE_ROW,
  GITLAB_ROW,
  PODMAN_ROOT_ROW,
  PODMAN_USER_ROW,
  PodmanSandbox,
  RESTRICTED_ROW,
  ROOTLESS_USER,
  runAsRootlessUser,
  type PodmanResult,
  type PodmanRow,
} from '../helpers/podman-rows.js';

const itFails = it.fails;

const EPOCH = 1_700_000_000;
/** What hoist's own environment holds in every row, none of which a step may see. */
const HOIST_SECRETS = {
  HOIST_MATRIX_TOKEN: 'matrix-s3cret-token',
  DOCKER_CONFIG: '/tmp/matrix-docker-config',
  REGISTRY_AUTH_FILE: '/tmp/matrix-auth.json',
};

const DOCKERFILE = `FROM scratch
COPY rootfs /
COPY --chown=${APP_UID}:${APP_GID} app-home /home/app
RUN set -e; \\
    mkdir -p /opt/made/deep; echo made-by-root > /opt/made/deep/file; chmod 0600 /opt/made/deep/file; \\
    rm /etc/base-file; rm -r /srv/base-dir; \\
    rm -r /srv/replaced; mkdir /srv/replaced; echo new > /srv/replaced/new; \\
    rm -r /srv/dir-to-file; echo now-a-file > /srv/dir-to-file; \\
    ln -s ../opt/made/deep/file /srv/symlink; ln -s /nowhere /srv/dangling; \\
    ln /opt/made/deep/file /opt/made/hardlink; ln /etc/base-linked /etc/base-linked-too; \\
    printf '#!/bin/sh\\necho suid\\n' > /opt/suid; chmod 4755 /opt/suid; \\
    chmod 0640 /etc/base-mode
RUN mkdir /opt/for-app && chown app:app /opt/for-app && echo owned > /opt/owned && chown 1234:2345 /opt/owned && chown app:staff /etc/base-chowned
USER app
WORKDIR /home/app/work/deeper
RUN set -e; \\
    echo by-app > mine; mkdir sub; echo in-sub > sub/f; chmod 0700 sub; ln -s mine link; ln mine hard; \\
    echo app-opt > /opt/for-app/file; rm /home/app/base-app-file; id -u > /home/app/id.txt; id -g >> /home/app/id.txt
USER root
RUN chown -R 1234:2345 /home/app/work/deeper/sub
RUN echo '--- env'; env | sort; echo '--- ls'; ls -a /; echo '--- groups'; id -G; echo '--- end'
RUN /bin/busybox setsid sleep 3600 & (sleep 3601) & echo 'left two running'
USER app
RUN echo '--- env'; env | sort; echo '--- ls'; ls -a /; echo '--- groups'; id -G; echo '--- end'
RUN /bin/busybox setsid sleep 3602 & echo 'left one running as app'
USER root
WORKDIR /srv/gone/deep
RUN rm -r /srv/gone
USER app
RUN echo 'in a working directory made again'
`;

/**
 * The same build without chown inside RUN, for the rows whose runner fakes
 * ids (proot) over a static busybox: nothing there can record what chown
 * sets (fakeroot needs glibc), so hoist refuses those steps (tested) rather
 * than write wrong owners, and the rest is compared on this variant.
 */
const CHOWN_LINE = 'RUN mkdir /opt/for-app && chown app:app /opt/for-app && echo owned > /opt/owned && chown 1234:2345 /opt/owned && chown app:staff /etc/base-chowned\n';
const DOCKERFILE_WITHOUT_CHOWN = DOCKERFILE.replace(CHOWN_LINE, 'RUN mkdir /opt/for-app && chmod 0777 /opt/for-app && echo owned > /opt/owned\n').replace(
  'RUN chown -R 1234:2345 /home/app/work/deeper/sub\n',
  '',
);
/** The line of the first chown step in DOCKERFILE. */
const CHOWN_STEP_LINE = DOCKERFILE.slice(0, DOCKERFILE.indexOf(CHOWN_LINE)).split('\n').length;

/** The steps that chown (by their history entries). */
function isChownStep(createdBy: string): boolean {
  return createdBy.startsWith('RUN ') && createdBy.includes('chown ');
}

type Variant = 'full' | 'without-chown';
const DOCKERFILE_NAMES: Record<Variant, string> = { full: 'Dockerfile', 'without-chown': 'Dockerfile.without-chown' };


/** Rows whose runner is proot, which cannot give a step supplementary groups (`id -G` shows hoist's own). */
const NO_SUPPLEMENTARY_GROUPS: ReadonlySet<string> = new Set([RESTRICTED_ROW.name, PODMAN_USER_ROW.name]);

interface Built {
  image: ReadImage;
  /** The build's log (--progress plain). */
  log: string;
}

let sandbox: PodmanSandbox;
let context: string;

/** A copy of the context that `uid` can read, and an output directory it can write. */
async function rowDirs(name: string, uid: number, gid: number): Promise<{ ctx: string; out: string }> {
  const dir = await mkdtemp(path.join(sandbox.work, `${name}-`));
  await chmod(dir, 0o755);
  const ctx = path.join(dir, 'context');
  execFileSync('cp', ['-a', context, ctx]);
  const out = path.join(dir, 'out');
  await mkdir(out);
  if (uid !== 0) execFileSync('chown', ['-R', '-h', `${uid}:${gid}`, ctx, out]);
  return { ctx, out };
}

function buildArgs(ctx: string, out: string, variant: Variant = 'full'): string[] {
  return ['build', '--isolation', 'auto', '--progress', 'plain', '-t', 'matrix:latest', '-o', `type=oci,dest=${out}/image.tar`, '-f', `${ctx}/${DOCKERFILE_NAMES[variant]}`, ctx];
}

function expectBuilt(r: PodmanResult, what: string): void {
  expect(r.status, `${what}\n${r.stdout}\n${r.stderr}`).toBe(0);
}

/** The build in `row`, with its result whether it succeeded or not. */
async function runInRow(row: PodmanRow, variant: Variant): Promise<{ r: PodmanResult; out: string }> {
  const { ctx, out } = await rowDirs('row', row.uid, row.uid);
  const croot = await sandbox.makeContainerRoot(['ctx', 'out']);
  const r = sandbox.run(
    row,
    croot,
    [
      [ctx, '/ctx', 'ro'],
      [out, '/out', 'rw'],
    ],
    ['node', '/hoist/dist/bin/hoist.cjs', ...buildArgs('/ctx', '/out', variant)],
    { env: { HOME: '/tmp', HOIST_CACHE_DIR: '/tmp/hoist-cache', TMPDIR: '/tmp', SOURCE_DATE_EPOCH: String(EPOCH), ...HOIST_SECRETS } },
  );
  return { r, out };
}

async function buildInRow(row: PodmanRow, variant: Variant): Promise<Built> {
  const { r, out } = await runInRow(row, variant);
  expectBuilt(r, row.name);
  return { image: await readOciArchive(path.join(out, 'image.tar')), log: r.stderr };
}

async function buildAsHostRoot(variant: Variant): Promise<Built> {
  const { ctx, out } = await rowDirs('host-root', 0, 0);
  const r = hoist(buildArgs(ctx, out, variant), {
    env: { HOIST_CACHE_DIR: path.join(out, '..', 'cache'), SOURCE_DATE_EPOCH: String(EPOCH), ...HOIST_SECRETS },
    timeoutMs: 10 * 60_000,
  });
  expectBuilt(r, 'root on the host');
  return { image: await readOciArchive(path.join(out, 'image.tar')), log: r.stderr };
}

async function buildAsRootlessUser(): Promise<Built> {
  const { uid, gid } = ensureRootlessUser();
  // The user must get through the test run's directories to its own.
  await chmod(tmpdir(), 0o711);
  const { ctx, out } = await rowDirs('rootless', uid, gid);
  const scratch = path.join(out, '..', 'scratch');
  await mkdir(scratch);
  await chown(scratch, uid, gid);
  const r = runAsRootlessUser([path.join(REPO_ROOT, 'dist/bin/hoist.cjs'), ...buildArgs(ctx, out)], {
    HOME: scratch,
    TMPDIR: scratch,
    HOIST_CACHE_DIR: path.join(scratch, 'cache'),
    SOURCE_DATE_EPOCH: String(EPOCH),
    ...HOIST_SECRETS,
  });
  expectBuilt(r, `${ROOTLESS_USER} with a subuid range`);
  return { image: await readOciArchive(path.join(out, 'image.tar')), log: r.stderr };
}

/** Every entry of a layer as the comparison sees it: type, name, mode, owner, mtime, size, link target, content hash, PAX records. */
function describeLayer(layer: TarMember[]): string[] {
  return layer.map((m) => {
    const content = m.type === 'file' ? ` sha256=${createHash('sha256').update(m.content).digest('hex')}` : '';
    const pax = Object.keys(m.pax).length > 0 ? ` pax=${JSON.stringify(m.pax)}` : '';
    return `${m.type} ${m.name} mode=${m.mode.toString(8)} ${m.uid}:${m.gid} mtime=${m.mtime} size=${m.size}${m.linkname !== null && m.linkname !== '' ? ` -> ${m.linkname}` : ''}${content}${pax}`;
  });
}

/** The image as the comparison sees it: the config (with the history) and every layer's headers. */
function describeImage(image: ReadImage): { config: unknown; layers: string[][] } {
  return { config: image.config, layers: image.layers.map(describeLayer) };
}

interface Probe {
  env: string[];
  ls: string[];
  groups: string;
}

/** What one `--- env ... --- ls ... --- groups ... --- end` block printed, from the build log. */
function probes(log: string): Probe[] {
  const lines = log.split('\n').map((l) => l.replace(/^#\d+ (\d+\.\d+ )?/, ''));
  const blocks: Probe[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '--- env') continue;
    const lsAt = lines.indexOf('--- ls', i);
    const groupsAt = lines.indexOf('--- groups', lsAt);
    const endAt = lines.indexOf('--- end', groupsAt);
    if (lsAt < 0 || groupsAt < 0 || endAt < 0) throw new Error(`a probe block is cut short in:\n${log}`);
    blocks.push({ env: lines.slice(i + 1, lsAt), ls: lines.slice(lsAt + 1, groupsAt), groups: lines.slice(groupsAt + 1, endAt).join(' ') });
    i = endAt;
  }
  return blocks;
}

const built = new Map<string, Built>();

beforeAll(async () => {
  await ensureDebianPackages(['podman', 'proot', 'uidmap', 'busybox-static']);
  buildCli();
  sandbox = await PodmanSandbox.create('hoist-run-matrix-');
  context = path.join(sandbox.work, 'context');
  const rootfs = path.join(context, 'rootfs');
  await makeBusyboxRootfs(rootfs);
  await chmod(rootfs, 0o755);
  await writeFile(path.join(rootfs, 'etc/base-file'), 'deleted by a step\n');
  await writeFile(path.join(rootfs, 'etc/base-mode'), 'mode changed by a step\n', { mode: 0o644 });
  await writeFile(path.join(rootfs, 'etc/base-chowned'), 'owner changed by a step\n');
  await writeFile(path.join(rootfs, 'etc/base-linked'), 'hard-linked by a step\n');
  await mkdir(path.join(rootfs, 'srv/base-dir/nested'), { recursive: true });
  await writeFile(path.join(rootfs, 'srv/base-dir/a'), 'a\n');
  await writeFile(path.join(rootfs, 'srv/base-dir/nested/b'), 'b\n');
  await mkdir(path.join(rootfs, 'srv/replaced'));
  await writeFile(path.join(rootfs, 'srv/replaced/old'), 'old\n');
  await mkdir(path.join(rootfs, 'srv/dir-to-file'));
  await writeFile(path.join(rootfs, 'srv/dir-to-file/x'), 'x\n');
  await mkdir(path.join(rootfs, 'opt'));
  // COPY --chown makes /home/app, app's own (an existing directory would keep its owner, root).
  await rm(path.join(rootfs, 'home/app'), { recursive: true });
  const appHome = path.join(context, 'app-home');
  await mkdir(appHome);
  await writeFile(path.join(appHome, 'base-app-file'), 'deleted by app\n');
  await writeFile(path.join(appHome, '.profile'), 'export PS1=app\n');
  await link(path.join(appHome, '.profile'), path.join(appHome, '.profile-link'));
  await writeFile(path.join(context, DOCKERFILE_NAMES.full), DOCKERFILE);
  await writeFile(path.join(context, DOCKERFILE_NAMES['without-chown']), DOCKERFILE_WITHOUT_CHOWN);
}, 15 * 60_000);

afterAll(async () => {
  await sandbox?.dispose();
});

interface Row {
  name: string;
  /** The runner --isolation auto must pick there (doctor's choice for a build with a non-root USER). */
  runner: string;
  variant: Variant;
  build: () => Promise<Built>;
  /** Rows that build the variant without chown: the full build, which must be refused at the chown step. */
  refuse?: () => Promise<{ r: PodmanResult; out: string }>;
}

const ROWS: Row[] = [
  { name: 'root on the host', runner: 'chroot', variant: 'full', build: () => buildAsHostRoot('full') },
  { name: 'root on the host, without chown in RUN', runner: 'chroot', variant: 'without-chown', build: () => buildAsHostRoot('without-chown') },
  { name: `an ordinary user with a subuid range (${ROOTLESS_USER})`, runner: 'userns', variant: 'full', build: buildAsRootlessUser },
  ...[
    { row: GITLAB_ROW, runner: 'chroot', variant: 'full' as const },
    { row: FARGATE_ROW, runner: 'chroot', variant: 'full' as const },
    { row: RESTRICTED_ROW, runner: 'proot', variant: 'without-chown' as const },
    { row: PODMAN_ROOT_ROW, runner: 'chroot', variant: 'full' as const },
    { row: PODMAN_USER_ROW, runner: 'proot', variant: 'without-chown' as const },
  ].map(({ row, runner, variant }) => ({
    name: row.name,
    runner,
    variant,
    build: () => buildInRow(row, variant),
    ...(variant === 'without-chown' ? { refuse: () => runInRow(row, 'full') } : {}),
  })),
];

/** The image's layers, without those the chown steps made. */
function withoutChownLayers(image: ReadImage): string[][] {
  const chown = chownLayers(image);
  return image.layers.filter((_, i) => !chown.has(i)).map((layer) => describeLayer(layer));
}

/** Indexes of the layers the chown steps made. */
function chownLayers(image: ReadImage): Map<number, string> {
  const found = new Map<number, string>();
  let layer = 0;
  for (const h of image.config.history as { created_by: string; empty_layer?: boolean }[]) {
    if (h.empty_layer === true) continue;
    if (isChownStep(h.created_by)) found.set(layer, h.created_by);
    layer += 1;
  }
  return found;
}

function builtIn(name: string): Built {
  const b = built.get(name);
  if (b === undefined) throw new Error(`the build in "${name}" failed (see its test)`);
  return b;
}

/** The build each row is compared with: root on the host, of the same Dockerfile. */
function referenceFor(row: Row): Row {
  return ROWS.find((r) => r.variant === row.variant) as Row;
}

describe('one Dockerfile with RUN, built in every environment', () => {
  describe.each(ROWS)('$name', (row) => {
    it(`builds with ${row.runner}, with nothing of hoist or the runner inside the steps or the layers, and the owners and modes the steps gave`, async () => {
      const result = await row.build();
      built.set(row.name, result);
      const { image, log } = result;
      expect(/RUN steps use --isolation (\w+)/.exec(log)?.[1], log).toBe(row.runner);
      // The steps that left a daemon and a background job ended with their shell (else the build would still wait for them),
      // also a daemon of a non-root USER where hoist may not read its root (no CAP_SYS_PTRACE under Docker's default capabilities).
      expect(log).toContain('left two running');
      expect(log).toContain('left one running as app');

      // What a step sees: the image's environment, HOME, and the shell's own variables; the image's root.
      const seen = probes(log);
      expect(seen, log).toHaveLength(2);
      const imageRoot = [...flatten(image.layers).keys()].filter((p) => !p.includes('/') && p !== '' && p !== '.');
      for (const { env, ls } of seen) {
        const names = env.map((l) => l.split('=')[0]);
        expect(names.filter((n) => !['HOME', 'HOSTNAME', 'PATH', 'PWD', 'SHLVL', 'OLDPWD', '_', 'TERM'].includes(n as string)), env.join('\n')).toEqual([]);
        for (const secret of Object.values(HOIST_SECRETS)) expect(env.join('\n')).not.toContain(secret);
        expect(env.join('\n')).not.toMatch(/hoist/i);
        expect(ls.filter((n) => !['.', '..', 'proc', 'dev', 'sys', ...imageRoot].includes(n)), ls.join('\n')).toEqual([]);
      }

      // Nothing the runner made or bound in reaches a layer.
      for (const layer of image.layers) {
        const leaked = layer.filter((m) => /^(\.\/)?(proc|dev|sys)(\/|$)/.test(m.name) || /^(\.\/)?etc\/(resolv\.conf|hosts|hostname)$/.test(m.name));
        expect(leaked.map((m) => m.name)).toEqual([]);
      }

      // The owners and modes the steps asked for (but chown: see the next test).
      const fs = flatten(image.layers);
      const entry = (p: string): TarMember => {
        const m = fs.get(p);
        if (m === undefined) throw new Error(`${p} is not in the image`);
        return m;
      };
      expect(entry('opt/made/deep/file')).toMatchObject({ type: 'file', uid: 0, gid: 0, mode: 0o600 });
      expect(entry('opt/made/hardlink')).toMatchObject({ type: 'link', linkname: 'opt/made/deep/file' });
      expect(entry('opt/suid')).toMatchObject({ uid: 0, gid: 0, mode: 0o4755 });
      expect(entry('etc/base-mode')).toMatchObject({ mode: 0o640 });
      expect(entry('srv/symlink')).toMatchObject({ type: 'symlink', linkname: '../opt/made/deep/file' });
      expect(entry('srv/dir-to-file')).toMatchObject({ type: 'file' });
      expect([...fs.keys()].filter((p) => p.startsWith('srv/replaced/'))).toEqual(['srv/replaced/new']);
      expect([...fs.keys()].filter((p) => p === 'etc/base-file' || p.startsWith('srv/base-dir'))).toEqual([]);
      expect(entry('home/app/work/deeper')).toMatchObject({ type: 'directory', uid: APP_UID, gid: APP_GID });
      expect(entry('home/app/work/deeper/hard')).toMatchObject({ type: 'file', uid: APP_UID, gid: APP_GID, mode: 0o644 });
      expect(entry('home/app/work/deeper/mine')).toMatchObject({ type: 'link', linkname: 'home/app/work/deeper/hard' });
      expect(entry('home/app/work/deeper/link')).toMatchObject({ type: 'symlink', linkname: 'mine', uid: APP_UID, gid: APP_GID });
      expect(entry('opt/for-app/file')).toMatchObject({ uid: APP_UID, gid: APP_GID });
      expect(fs.has('home/app/base-app-file')).toBe(false);
      // A working directory a step removed is made again by the next step, in its layer, as BuildKit does: 0755, root's (not USER's).
      expect(entry('srv/gone/deep')).toMatchObject({ type: 'directory', uid: 0, gid: 0, mode: 0o755 });
      expect(entry('home/app/id.txt').content.toString()).toBe(`${APP_UID}\n${APP_GID}\n`);
    }, 15 * 60_000);

    const groupsIt = NO_SUPPLEMENTARY_GROUPS.has(row.name) ? itFails : it;
    groupsIt(`gives a step under USER the user's supplementary groups, as BuildKit does${NO_SUPPLEMENTARY_GROUPS.has(row.name) ? ' (expected to fail: proot cannot fake them)' : ''}`, () => {
      const [asRoot, asApp] = probes(builtIn(row.name).log);
      expect(asRoot?.groups).toBe('0');
      // runc (BuildKit's executor) gives the groups that list the user in /etc/group, not the primary one again.
      expect(asApp?.groups).toBe(`${APP_GID} ${STAFF_GID}`);
    });

    const refuse = row.refuse;
    if (refuse !== undefined) {
      it('refuses a chown step it cannot record (a static busybox: no fakeroot), naming its line, rather than writing wrong owners', async () => {
        const { r } = await refuse();
        expect(r.status, r.stderr).toBe(1);
        expect(r.stderr).toContain(`/ctx/Dockerfile:${CHOWN_STEP_LINE}: the step runs chown, and the owners it sets cannot be kept here`);
        expect(r.stderr).toContain('hint: build as root (--isolation chroot)');
      }, 15 * 60_000);
      return;
    }

    if (row.variant !== 'full') return;
    it('keeps what chown in a step gives', () => {
      const fs = flatten(builtIn(row.name).image.layers);
      const owner = (p: string): string => `${fs.get(p)?.uid}:${fs.get(p)?.gid}`;
      expect({
        'opt/for-app': owner('opt/for-app'),
        'opt/owned': owner('opt/owned'),
        'etc/base-chowned': owner('etc/base-chowned'),
        'home/app/work/deeper/sub': owner('home/app/work/deeper/sub'),
        'home/app/work/deeper/sub/f': owner('home/app/work/deeper/sub/f'),
      }).toEqual({
        'opt/for-app': `${APP_UID}:${APP_GID}`,
        'opt/owned': '1234:2345',
        'etc/base-chowned': `${APP_UID}:${STAFF_GID}`,
        'home/app/work/deeper/sub': '1234:2345',
        'home/app/work/deeper/sub/f': '1234:2345',
      });
    });
  });

  describe.each(ROWS.filter((r) => referenceFor(r) !== r))('$name, against root on the host', (row) => {
    it('gives the same config and the same layers (but those of chown steps), file for file, owner for owner, mode for mode', () => {
      const reference = builtIn(referenceFor(row).name).image;
      const other = builtIn(row.name).image;
      // The layers' diff_ids are compared below, layer by layer.
      const { rootfs: _otherRootfs, ...otherConfig } = other.config;
      const { rootfs: _referenceRootfs, ...referenceConfig } = reference.config;
      expect(otherConfig).toEqual(referenceConfig);
      expect(other.config.rootfs.diff_ids).toHaveLength(reference.config.rootfs.diff_ids.length);
      expect([...chownLayers(other).values()]).toEqual([...chownLayers(reference).values()]);
      expect(withoutChownLayers(other)).toEqual(withoutChownLayers(reference));
    });

    it('gives the same image, chown steps included, to the digest', () => {
      const reference = builtIn(referenceFor(row).name).image;
      const other = builtIn(row.name).image;
      expect(describeImage(other)).toEqual(describeImage(reference));
      expect(other.manifestDigest).toBe(reference.manifestDigest);
    });
  });
});
