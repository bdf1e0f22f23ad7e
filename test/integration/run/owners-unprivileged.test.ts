/**
 * Owners in the image when hoist itself runs unprivileged: the build runs as
 * nobody (no subordinate ids: proot, or a user namespace that maps one uid)
 * and as hoist-rootless (a subuid range), through util-linux `setpriv`, and
 * the layers are read back as root. Base files keep their owners, a USER's
 * files get its ids whatever uid hoist runs as, `chown` in a glibc image is
 * recorded through fakeroot, and where nothing can record it the build fails
 * instead of writing wrong owners.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { whyNotLoadable } from '../../../src/run/index.js';
import { APP_GID, APP_UID, makeBusyboxRootfs } from '../../helpers/busybox-rootfs.js';
import type { ReadImage, TarMember } from '../../helpers/oci-reader.js';
import { ensureDebianPackages } from '../../helpers/packages.js';
import { UnprivilegedBuilder, type UnprivilegedOutcome } from '../../helpers/unprivileged-build.js';

const NOBODY = 65534;
const RANGED = 'hoist-rootless';
const asRoot = process.getuid?.() === 0;

let builder: UnprivilegedBuilder;
let busyboxCtx: string;
let glibcCtx: string;

/** Fill `root` with the host's dash, coreutils' chown and friends and the libraries they load: a small dynamically linked glibc image. */
async function makeGlibcRootfs(root: string): Promise<void> {
  const programs = ['/bin/sh', '/bin/chown', '/bin/chmod', '/bin/mkdir', '/bin/touch', '/bin/ln', '/bin/cat', '/usr/bin/id', '/usr/bin/setfattr', '/usr/bin/getfattr'];
  const files = new Set<string>();
  for (const p of programs) {
    files.add(p);
    for (const m of execFileSync('ldd', [p], { encoding: 'utf8' }).matchAll(/(\/\S+)/g)) files.add(m[1] as string);
  }
  for (const f of files) {
    await mkdir(path.join(root, path.dirname(f)), { recursive: true });
    await copyFile(await realpath(f), path.join(root, f));
    await chmod(path.join(root, f), 0o755);
  }
  await mkdir(path.join(root, 'etc'), { recursive: true });
  await writeFile(path.join(root, 'etc/passwd'), `root:x:0:0:root:/root:/bin/sh\napp:x:${APP_UID}:${APP_GID}:app:/home/app:/bin/sh\n`);
  await writeFile(path.join(root, 'etc/group'), `root:x:0:\napp:x:${APP_GID}:\n`);
  await mkdir(path.join(root, 'tmp'), { recursive: true });
  await chmod(path.join(root, 'tmp'), 0o1777);
}

/** A build context: the rootfs, and a file for COPY --chown to give a non-root owner in the base image. */
async function makeContext(name: string, fill: (root: string) => Promise<void>): Promise<string> {
  const ctx = path.join(builder.work, name);
  await fill(path.join(ctx, 'rootfs'));
  await writeFile(path.join(ctx, 'owned'), 'app file\n');
  execFileSync('chmod', ['-R', 'a+rX', ctx]);
  return ctx;
}

beforeAll(async () => {
  if (!asRoot) return;
  await ensureDebianPackages(['proot', 'fakeroot', 'busybox-static', 'uidmap']);
  builder = await UnprivilegedBuilder.create('hoist-owners-');
  busyboxCtx = await makeContext('busybox', makeBusyboxRootfs);
  glibcCtx = await makeContext('glibc', makeGlibcRootfs);
}, 15 * 60_000);

afterAll(async () => {
  if (builder !== undefined) await builder.dispose();
});

/** Build `lines` on top of the context's rootfs as `user`, and read the image back (as root). */
function buildAs(user: string | number, ctx: string, lines: string[], isolation: string): Promise<UnprivilegedOutcome> {
  const dockerfile = ['FROM scratch AS base', 'COPY rootfs /', `COPY --chown=${APP_UID}:${APP_GID} owned /home/app/owned`, 'FROM base', ...lines].join('\n');
  return builder.buildAs(user, { contextDir: ctx, dockerfile, isolation, tag: 'owners:test' });
}

/**
 * The layers after the base's two: each member as `type name mode uid:gid`.
 * The runners' mount points in /etc (resolv.conf, hosts) move its ctime,
 * so /etc itself can be in a layer whose step left it alone; it is left out
 * when nothing below it is there.
 */
function runLayers(image: ReadImage): string[][] {
  return image.layers.slice(2).map((l: TarMember[]) => {
    const lines = l.map((m) => `${m.type} ${m.name} ${m.mode.toString(8)} ${m.uid}:${m.gid}`);
    return l.some((m) => m.name.startsWith('etc/') && m.name !== 'etc/') ? lines : lines.filter((x) => x !== 'directory etc/ 755 0:0');
  });
}

function member(image: ReadImage, layer: number, name: string): TarMember | undefined {
  return image.layers[layer]?.find((m) => m.name === name);
}

const BASE_AND_USER_STEPS = [
  'RUN echo more >> /etc/passwd && echo more >> /home/app/owned && mkdir /made && touch /made/by-root',
  'USER app',
  'RUN touch /tmp/by-app',
];

describe.runIf(asRoot)('whether the host\'s libfakeroot loads in an image', () => {
  it('needs a glibc for the same machine with every symbol version the library asks for, found through symlinks inside the rootfs', async () => {
    const library = execFileSync('sh', ['-c', 'ls /usr/lib/*/libfakeroot/libfakeroot-sysv.so | head -1'], { encoding: 'utf8' }).trim();
    const head = (await readFile(library)).subarray(0, 64);
    const root = await mkdtemp(path.join(builder.work, 'libc-'));
    expect(await whyNotLoadable(library, root)).toMatch(/no glibc for this machine/);

    // An old glibc: the right machine, but only GLIBC_2.2.5.
    await mkdir(path.join(root, 'lib/x86_64-linux-gnu'), { recursive: true });
    await writeFile(path.join(root, 'lib/x86_64-linux-gnu/libc-2.28.so'), Buffer.concat([head, Buffer.from('GLIBC_2.2.5\0')]));
    await symlink('libc-2.28.so', path.join(root, 'lib/x86_64-linux-gnu/libc.so.6'));
    expect(await whyNotLoadable(library, root)).toMatch(/older than the one fakeroot was built for \(it lacks GLIBC_2\.\d+\)/);

    // The image's libc through an absolute symlink that would leave the rootfs if followed on the host.
    await writeFile(path.join(root, 'lib/x86_64-linux-gnu/libc-new.so'), Buffer.concat([head, await readFile(await realpath('/lib/x86_64-linux-gnu/libc.so.6'))]));
    await rm(path.join(root, 'lib/x86_64-linux-gnu/libc.so.6'));
    await symlink('/lib/x86_64-linux-gnu/../x86_64-linux-gnu/libc-new.so', path.join(root, 'lib/x86_64-linux-gnu/libc.so.6'));
    expect(await whyNotLoadable(library, root)).toBeUndefined();
  });
});

describe.runIf(asRoot)('owners when hoist runs unprivileged', () => {
  it('proot as nobody: base files keep their owners, new files are root\'s, a USER\'s files are its own', async () => {
    const r = await buildAs(NOBODY, busyboxCtx, BASE_AND_USER_STEPS, 'proot');
    expect(r.ok, `${r.message}\n${r.hint}`).toBe(true);
    const image = r.image as ReadImage;
    expect(runLayers(image)).toEqual([
      ['directory etc/ 755 0:0', 'file etc/passwd 644 0:0', 'directory home/ 755 0:0', 'directory home/app/ 755 0:0', `file home/app/owned 644 ${APP_UID}:${APP_GID}`, 'directory made/ 755 0:0', 'file made/by-root 644 0:0'],
      ['directory tmp/ 1777 0:0', `file tmp/by-app 644 ${APP_UID}:${APP_GID}`],
    ]);
  });

  it('proot as nobody: a file COPY --chown gave to app after a step keeps app as its owner when a later step changes it', async () => {
    const r = await buildAs(NOBODY, busyboxCtx, ['RUN touch /first', `COPY --chown=${APP_UID}:${APP_GID} owned /srv/owned`, 'RUN echo more >> /srv/owned'], 'proot');
    expect(r.ok, `${r.message}\n${r.hint}`).toBe(true);
    expect(runLayers(r.image as ReadImage)[2]).toEqual([`directory srv/ 755 ${APP_UID}:${APP_GID}`, `file srv/owned 644 ${APP_UID}:${APP_GID}`]);
  });

  it('a user namespace that maps one uid: root steps get root\'s owners; USER app makes auto pick proot and an explicit userns fail', async () => {
    const root = await buildAs(NOBODY, busyboxCtx, BASE_AND_USER_STEPS.slice(0, 1), 'userns');
    expect(root.ok, `${root.message}\n${root.hint}`).toBe(true);
    expect(runLayers(root.image as ReadImage)[0]).toEqual([
      'directory etc/ 755 0:0', 'file etc/passwd 644 0:0', 'directory home/ 755 0:0', 'directory home/app/ 755 0:0', `file home/app/owned 644 ${APP_UID}:${APP_GID}`, 'directory made/ 755 0:0', 'file made/by-root 644 0:0',
    ]);

    const explicit = await buildAs(NOBODY, busyboxCtx, BASE_AND_USER_STEPS, 'userns');
    expect(explicit).toMatchObject({ ok: false, code: 'RUN_NO_RUNNER' });
    expect(explicit.hint).toMatch(/subordinate id range in \/etc\/subuid/);

    const auto = await buildAs(NOBODY, busyboxCtx, BASE_AND_USER_STEPS, 'auto');
    expect(auto.ok, `${auto.message}\n${auto.hint}`).toBe(true);
    expect(auto.warnings.join('\n')).toMatch(/--isolation proot/);
    expect(runLayers(auto.image as ReadImage)[1]).toEqual(['directory tmp/ 1777 0:0', `file tmp/by-app 644 ${APP_UID}:${APP_GID}`]);
  });

  it('a user namespace with a subuid range (hoist-rootless): ids inside, not the subordinate ids on disk, reach the image', async () => {
    if (spawnSync('id', ['-u', RANGED]).status !== 0) execFileSync('useradd', ['-M', '-s', '/usr/sbin/nologin', RANGED]);
    const r = await buildAs(RANGED, busyboxCtx, [...BASE_AND_USER_STEPS, 'USER root', `RUN chown ${APP_UID}:${APP_GID} /made/by-root`], 'userns');
    expect(r.ok, `${r.message}\n${r.hint}`).toBe(true);
    const layers = runLayers(r.image as ReadImage);
    expect(layers[1]).toEqual(['directory tmp/ 1777 0:0', `file tmp/by-app 644 ${APP_UID}:${APP_GID}`]);
    expect(layers[2]).toEqual(['directory made/ 755 0:0', `file made/by-root 644 ${APP_UID}:${APP_GID}`]);
  });

  it('a user namespace with a subuid range: a file capability a step sets reaches the image as a root build writes it (revision 2, not bound to hoist\'s uid)', async () => {
    // cap_net_raw+ep, revision 2; the kernel stores it as revision 3 with the namespace root's host uid.
    const v2 = 'AQAAAgAgAAAAAAAAAAAAAAAAAAA=';
    const r = await buildAs(RANGED, glibcCtx, [`RUN touch /made && setfattr -n security.capability -v 0s${v2} /made && getfattr -n security.capability -e base64 /made`], 'userns');
    expect(r.ok, `${r.message}\n${r.hint}`).toBe(true);
    const made = member(r.image as ReadImage, 2, 'made');
    expect(made?.pax['SCHILY.xattr.security.capability']).toBe(Buffer.from(v2, 'base64').toString('latin1'));
  });

  it('a capability that hoist, unprivileged, cannot set on disk stays in the image when a step changes the file (chmod) and goes when it writes it, as under Linux; COPY --from keeps it', async () => {
    const v2 = 'AQAAAgAgAAAAAAAAAAAAAAAAAAA=';
    const capfile = path.join(busyboxCtx, 'capfile');
    await writeFile(capfile, 'a program\n');
    await chmod(capfile, 0o755);
    execFileSync('setfattr', ['-n', 'security.capability', '-v', `0s${v2}`, capfile]);
    const cap = Buffer.from(v2, 'base64').toString('latin1');
    for (const [user, isolation] of [[NOBODY, 'proot'], [RANGED, 'userns']] as const) {
      const r = await buildAs(user, busyboxCtx, ['COPY capfile /kept', 'COPY capfile /written', 'RUN chmod 0750 /kept && echo more >> /written', 'FROM base', 'COPY --from=1 /kept /from-stage'], isolation);
      expect(r.ok, `${isolation}: ${r.message}\n${r.hint}`).toBe(true);
      const image = r.image as ReadImage;
      expect(member(image, 2, 'from-stage')?.pax['SCHILY.xattr.security.capability'], isolation).toBe(cap);
      // The first stage's image is not the output: build it alone to read its RUN layer.
      const first = await buildAs(user, busyboxCtx, ['COPY capfile /kept', 'COPY capfile /written', 'RUN chmod 0750 /kept && echo more >> /written'], isolation);
      const run = first.image as ReadImage;
      expect(member(run, 4, 'kept'), isolation).toMatchObject({ mode: 0o750 });
      expect(member(run, 4, 'kept')?.pax['SCHILY.xattr.security.capability'], isolation).toBe(cap);
      expect(member(run, 4, 'written')?.pax['SCHILY.xattr.security.capability'], isolation).toBeUndefined();
    }
  });

  it('a user namespace with a subuid range: a USER writes into its own directory of the base image', async () => {
    // COPY --chown made /home/app for the glibc base, owned by app; hoist unpacked it as hoist-rootless.
    const r = await buildAs(RANGED, glibcCtx, ['USER app', 'RUN touch /home/app/mine && id -u > /home/app/id'], 'userns');
    expect(r.ok, `${r.message}\n${r.hint}`).toBe(true);
    expect(runLayers(r.image as ReadImage)[0]).toEqual([
      `directory home/ 755 ${APP_UID}:${APP_GID}`,
      `directory home/app/ 755 ${APP_UID}:${APP_GID}`,
      `file home/app/id 644 ${APP_UID}:${APP_GID}`,
      `file home/app/mine 644 ${APP_UID}:${APP_GID}`,
    ]);
  });

  it('a user namespace with a subuid range: a USER writes into a cache mount given to it (uid=, gid=)', async () => {
    const r = await buildAs(RANGED, busyboxCtx, ['USER app', `RUN --mount=type=cache,target=/home/app/.cache,uid=${APP_UID},gid=${APP_GID} touch /home/app/.cache/x && ls -ln /home/app/.cache > /tmp/cache-listing`], 'userns');
    expect(r.ok, `${r.message}\n${r.hint}`).toBe(true);
    const layer = (r.image as ReadImage).layers.at(-1) as TarMember[];
    expect(layer.find((m) => m.name === 'tmp/cache-listing')?.content.toString()).toMatch(new RegExp(`${APP_UID} +${APP_GID} .* x\n`));
    expect(layer.some((m) => m.name.startsWith('home/app/.cache'))).toBe(false);
  });

  it('a user namespace with a subuid range: what a step makes private to another id is read (taken back from the namespace), and the next step as that id still owns it', async () => {
    const r = await buildAs(RANGED, busyboxCtx, [
      `RUN mkdir -m 700 /priv && echo secret > /priv/f && chmod 600 /priv/f && ln /priv/f /priv/f-too && chown -R ${APP_UID}:${APP_GID} /priv`,
      'USER app',
      'RUN echo more >> /priv/f && touch /priv/g && id -u > /priv/id',
    ], 'userns');
    expect(r.ok, `${r.message}\n${r.hint}`).toBe(true);
    const layers = runLayers(r.image as ReadImage);
    const app = `${APP_UID}:${APP_GID}`;
    expect(layers[0]).toEqual([`directory priv/ 700 ${app}`, `file priv/f 600 ${app}`, `link priv/f-too 600 ${app}`]);
    expect(layers[1]).toEqual([`directory priv/ 700 ${app}`, `file priv/f 600 ${app}`, `link priv/f-too 600 ${app}`, `file priv/g 644 ${app}`, `file priv/id 644 ${app}`]);
  });

  it('a user namespace with a subuid range: a file not even its owner may read fails the step with what to do', async () => {
    const r = await buildAs(RANGED, busyboxCtx, [`RUN mkdir /priv && echo x > /priv/f && chmod 0 /priv/f && chown -R ${APP_UID}:${APP_GID} /priv`], 'userns');
    expect(r).toMatchObject({ ok: false, code: 'SNAPSHOT_UNREADABLE' });
    expect(r.message).toMatch(/Dockerfile:5: .*\/priv\/f.*not even the file's owner may read it/s);
    expect(r.hint).toMatch(/chmod u\+r|--isolation proot/);
  });

  it('chown in a glibc image under proot is recorded through fakeroot, and later steps keep what it recorded', async () => {
    const r = await buildAs(NOBODY, glibcCtx, [
      `RUN mkdir -p /srv/data /locked && touch /srv/data/f && chown -R ${APP_UID}:${APP_GID} /srv && chown 7:8 /etc/passwd && chmod 0 /locked && chown 0:${APP_GID} /home/app/owned`,
      'RUN echo more >> /srv/data/f && echo more >> /etc/passwd && id -u > /tmp/id',
    ], 'proot');
    expect(r.ok, `${r.message}\n${r.hint}`).toBe(true);
    const image = r.image as ReadImage;
    // COPY --chown made /home and /home/app for the base, owned by app.
    expect(runLayers(image)[0]).toEqual([
      'directory etc/ 755 0:0',
      'file etc/passwd 644 7:8',
      `directory home/ 755 ${APP_UID}:${APP_GID}`,
      `directory home/app/ 755 ${APP_UID}:${APP_GID}`,
      `file home/app/owned 644 0:${APP_GID}`,
      'directory locked/ 0 0:0',
      `directory srv/ 755 ${APP_UID}:${APP_GID}`,
      `directory srv/data/ 755 ${APP_UID}:${APP_GID}`,
      `file srv/data/f 644 ${APP_UID}:${APP_GID}`,
    ]);
    expect(runLayers(image)[1]).toEqual([
      'directory etc/ 755 0:0',
      'file etc/passwd 644 7:8',
      `directory srv/ 755 ${APP_UID}:${APP_GID}`,
      `directory srv/data/ 755 ${APP_UID}:${APP_GID}`,
      `file srv/data/f 644 ${APP_UID}:${APP_GID}`,
      'directory tmp/ 1777 0:0',
      'file tmp/id 644 0:0',
    ]);
    expect(member(image, 3, 'tmp/id')?.content.toString()).toBe('0\n');
    // Nothing of fakeroot is left in the layers.
    expect(image.layers.flat().map((m) => m.name).filter((n) => n.includes('fakeroot') || n.includes('ld.so.preload'))).toEqual([]);
  });

  it('an attribute a step sets through fakeroot (setcap, setfattr), which faked keeps in memory only, is read back from faked and reaches the layer, and later steps keep it', async () => {
    // security.capability as setcap writes cap_net_raw+ep (VFS_CAP_REVISION_2).
    const cap = 'AQAAAgAgAAAAAAAAAAAAAAAAAAA=';
    const steps = [
      `RUN touch /made /plain /later /capped-later && ln -s made /made-link && setfattr -n security.capability -v 0s${cap} /made && setfattr -n user.note -v x /made && setfattr -n user.v -v old /later && getfattr -d -m - /made`,
      'RUN chmod 0750 /made',
      // A file of an earlier step whose one change is attributes set through fakeroot: its stat does not move, its entry is written all the same, and the step's value wins over the one on disk.
      `RUN setfattr -n user.v -v new /later && setfattr -n security.capability -v 0s${cap} /capped-later`,
    ];
    for (const isolation of ['proot', 'userns']) {
      const r = await buildAs(NOBODY, glibcCtx, steps, isolation);
      expect(r.ok, `${isolation}: ${r.message}\n${r.hint}`).toBe(true);
      const image = r.image as ReadImage;
      // The file the step set them on: the capability and the user attribute, as a root build writes them; nothing on its neighbours or the link.
      const made = member(image, 2, 'made');
      expect(made?.pax['SCHILY.xattr.security.capability'], isolation).toBe(Buffer.from(cap, 'base64').toString('latin1'));
      expect(made?.pax['SCHILY.xattr.user.note'], isolation).toBe('x');
      for (const other of ['plain', 'made-link']) expect(Object.keys(member(image, 2, other)?.pax ?? {}).filter((k) => k.includes('xattr')), `${isolation} ${other}`).toEqual([]);
      // A later step that changes only its mode keeps them, as on a disk that holds them.
      const chmodded = member(image, 3, 'made');
      expect(chmodded?.mode, isolation).toBe(0o750);
      expect(chmodded?.pax['SCHILY.xattr.security.capability'], isolation).toBe(Buffer.from(cap, 'base64').toString('latin1'));
      expect(member(image, 2, 'later')?.pax['SCHILY.xattr.user.v'], isolation).toBe('old');
      expect(runLayers(image)[2], isolation).toEqual(['file capped-later 644 0:0', 'file later 644 0:0']);
      expect(member(image, 4, 'later')?.pax['SCHILY.xattr.user.v'], isolation).toBe('new');
      expect(member(image, 4, 'capped-later')?.pax['SCHILY.xattr.security.capability'], isolation).toBe(Buffer.from(cap, 'base64').toString('latin1'));
    }
    // Reading attributes changes nothing, and neither does removing one that is not there: no file is written for it.
    const read = await buildAs(NOBODY, glibcCtx, ['RUN touch /made && chown 7:8 /made && getfattr -d /made && (setfattr -x user.nothere /made || true)'], 'proot');
    expect(read.ok, `${read.message}\n${read.hint}`).toBe(true);
    expect(runLayers(read.image as ReadImage)[0]).toEqual(['file made 644 7:8']);
  });

  it('chown in a glibc image in a user namespace that maps one uid is recorded too', async () => {
    const r = await buildAs(NOBODY, glibcCtx, [`RUN mkdir /srv && chown ${APP_UID}:${APP_GID} /srv`], 'userns');
    expect(r.ok, `${r.message}\n${r.hint}`).toBe(true);
    expect(runLayers(r.image as ReadImage)[0]).toEqual([`directory srv/ 755 ${APP_UID}:${APP_GID}`]);
  });

  it('chown by a static busybox fails instead of writing wrong owners: refused under proot, and refused by the kernel in a one-uid namespace', async () => {
    const proot = await buildAs(NOBODY, busyboxCtx, [`RUN mkdir /srv && chown ${APP_UID}:${APP_GID} /srv`], 'proot');
    expect(proot).toMatchObject({ ok: false, code: 'RUN_OWNERS_UNRECORDABLE' });
    expect(proot.message).toMatch(/Dockerfile:5: the step runs chown.*no glibc/s);
    expect(proot.hint).toMatch(/--isolation userns/);

    const userns = await buildAs(NOBODY, busyboxCtx, [`RUN mkdir /srv && chown ${APP_UID}:${APP_GID} /srv`], 'userns');
    expect(userns).toMatchObject({ ok: false, code: 'RUN_FAILED' });
    expect(userns.message).toMatch(/chown: \/srv: Invalid argument/);
  });
});
