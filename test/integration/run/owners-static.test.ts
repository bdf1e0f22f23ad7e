/**
 * chown by a statically linked program under proot, where hoist records
 * owners through fakeroot: in a Debian minbase image (debootstrap, cached)
 * with busybox-static's busybox copied in, built by hoist running as nobody
 * (no subordinate ids, so the proot runner fakes root over one uid and
 * fakeroot records what chown sets). coreutils' chown is recorded; a static
 * busybox chown, called by its path or through a link found in PATH, would
 * reach nobody's record (proot fakes its success), so the step is refused
 * before it runs with the path named.
 */
import { execFileSync } from 'node:child_process';
import { chmod, copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { debianMinbaseImage } from '../../helpers/debian-image.js';
import type { ReadImage, TarMember } from '../../helpers/oci-reader.js';
import { ensureDebianPackages } from '../../helpers/packages.js';
import { UnprivilegedBuilder, type UnprivilegedOutcome } from '../../helpers/unprivileged-build.js';

const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;

let builder: UnprivilegedBuilder;
let context: string;
let baseLayout: string;

beforeAll(async () => {
  if (!asRoot) return;
  await ensureDebianPackages(['proot', 'fakeroot', 'busybox-static']);
  const debian = await debianMinbaseImage();
  builder = await UnprivilegedBuilder.create('hoist-owners-static-');
  // The cached layout is under root's home: a copy nobody can read.
  baseLayout = path.join(builder.work, 'debian');
  execFileSync('cp', ['-a', debian.layout, baseLayout]);
  context = path.join(builder.work, 'context');
  await mkdir(context);
  await copyFile('/bin/busybox', path.join(context, 'busybox'));
  await chmod(path.join(context, 'busybox'), 0o755);
  execFileSync('chmod', ['-R', 'a+rX', builder.work]);
}, 30 * 60_000);

afterAll(async () => {
  if (builder !== undefined) await builder.dispose();
});

/** Build `FROM debian`, busybox-static's busybox in /bin, then `lines`, as nobody under proot. */
function buildAsNobody(lines: string[]): Promise<UnprivilegedOutcome> {
  const dockerfile = ['FROM debian', 'COPY busybox /bin/busybox', ...lines].join('\n');
  return builder.buildAs(NOBODY, { contextDir: context, dockerfile, isolation: 'proot', tag: 'owners:static', baseLayout });
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
