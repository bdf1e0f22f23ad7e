/**
 * --snapshot: the same Dockerfile built with the walk and the overlay
 * snapshotter gives the same image, digest for digest (SOURCE_DATE_EPOCH
 * clamps the times), with every runner that can mount an overlay here; and
 * where one cannot, auto falls back to walk and an explicit overlay fails.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { release } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BuildOptions } from '../../../src/builder/executor/build.js';
import type { BuildEvent } from '../../../src/builder/events.js';
import type { RunnerKind } from '../../../src/run/index.js';
import { scratchTmpdir } from '../../helpers/scratch-tmpdir.js';
import { APP_GID, APP_UID, makeBusyboxRootfs } from '../../helpers/busybox-rootfs.js';
import { buildLines, tempDir } from '../../helpers/build.js';
import { flatten, type ReadImage, type TarMember } from '../../helpers/oci-reader.js';

let context: string;
const scratch = scratchTmpdir('hoist-snap-tmp-');

const DOCKERFILE = [
  'FROM scratch AS base',
  'COPY rootfs /',
  // The runners' mount points exist: made and removed by a runner, they move /etc's ctime, which the walk reports (and the overlay does not).
  'COPY net/ /etc/',
  'FROM base',
  'RUN echo hi > /hello && mkdir -p /d/e && echo x > /d/e/f && echo k > /d/keep && rm -f /bin/ls /etc/group && rm -rf /usr/sbin',
  // The old /d lives on until the new one exists: the walk tells a replaced directory by a new inode number, which rm -rf then mkdir may reuse.
  'RUN mv /d /d.old && mkdir /d && rm -rf /d.old && echo new > /d/n && ln /hello /hello2 && ln -s /hello /hl && chmod 4755 /hello && echo y > /y',
  'COPY rootfs/etc/passwd /copied',
  'RUN cat /copied > /seen && rm /y && chmod 700 /d && mkdir /tmp/app && chown 1000:1000 /tmp/app',
  'USER app',
  'RUN touch /tmp/app/x && mkdir /tmp/app/sub && echo app > /tmp/app/sub/f',
  'USER root',
  'WORKDIR /tmp/app/gone/deep',
  'RUN rm -r /tmp/app/gone',
  'USER app',
  // The working directory is missing: the step makes it, as BuildKit's executor does, so it is in the step's layer.
  'RUN true',
];

/** The last step's layer: the working directory made again, the image root's (not the USER's), whatever the runner and snapshotter. */
function expectWorkdirMadeByStep(image: ReadImage): void {
  const made = names(image.layers.at(-1)).filter((n) => n.includes('tmp/app/gone'));
  expect(made).toEqual(['directory tmp/app/gone/ 755 0:0', 'directory tmp/app/gone/deep/ 755 0:0']);
}

async function hoistBuild(extra: Partial<BuildOptions>): Promise<{ image: ReadImage; events: BuildEvent[] }> {
  return buildLines(context, DOCKERFILE, extra);
}

function snapshotMessage(events: readonly BuildEvent[]): string | undefined {
  for (const e of events) if (e.type === 'note' && e.code === 'SNAPSHOT') return e.message;
  return undefined;
}

async function leftovers(): Promise<string[]> {
  return (await readdir(scratch.dir)).filter((name) => name.startsWith('hoist-build-'));
}

function names(layer: TarMember[] | undefined): string[] {
  return (layer ?? []).map((m) => `${m.type} ${m.name} ${m.mode.toString(8)} ${m.uid}:${m.gid}`);
}

beforeAll(async () => {
  context = tempDir('hoist-snap-ctx-');
  await makeBusyboxRootfs(path.join(context, 'rootfs'));
  await mkdir(path.join(context, 'net'));
  await writeFile(path.join(context, 'net/hosts'), '127.0.0.1 localhost\n');
  await writeFile(path.join(context, 'net/resolv.conf'), 'nameserver 127.0.0.1\n');
}, 300_000);

describe('--snapshot overlay against --snapshot walk', () => {
  const mounted: RunnerKind[] = [];

  for (const isolation of ['userns', 'chroot'] as const) {
    it(`gives the same image with --isolation ${isolation}, where overlay mounts`, async () => {
      let overlay: Awaited<ReturnType<typeof hoistBuild>>;
      try {
        overlay = await hoistBuild({ isolation, snapshot: 'overlay' });
      } catch (err) {
        // This runner cannot run here at all, or cannot mount an overlay: it says which.
        expect(['RUN_NO_RUNNER', 'SNAPSHOT_OVERLAY_UNAVAILABLE']).toContain((err as { code?: string }).code);
        expect(await leftovers()).toEqual([]);
        return;
      }
      mounted.push(isolation);
      expect(snapshotMessage(overlay.events)).toMatch(/^RUN steps use --snapshot overlay/);
      const walk = await hoistBuild({ isolation, snapshot: 'walk' });
      expect(snapshotMessage(walk.events)).toMatch(/^RUN steps use --snapshot walk/);
      for (const [i, layer] of overlay.image.layers.entries()) expect(names(layer)).toEqual(names(walk.image.layers[i]));
      expect(overlay.image.manifest).toEqual(walk.image.manifest);

      const [first, second, , third, fourth] = overlay.image.layers.slice(2) as TarMember[][];
      expect(names(first)).toEqual(expect.arrayContaining(['file bin/.wh.ls 0 0:0', 'file etc/.wh.group 0 0:0', 'file usr/.wh.sbin 0 0:0', 'file d/e/f 644 0:0']));
      expect(names(second)).toEqual(expect.arrayContaining(['file d/.wh..wh..opq 0 0:0', 'file hello 4755 0:0', 'link hello2 4755 0:0', 'symlink hl 777 0:0']));
      expect(names(third)).toEqual(expect.arrayContaining(['file .wh.y 0 0:0', 'directory d/ 700 0:0', `directory tmp/app/ 755 ${APP_UID}:${APP_GID}`]));
      expect(names(fourth)).toEqual(expect.arrayContaining([`file tmp/app/sub/f 644 ${APP_UID}:${APP_GID}`]));
      expectWorkdirMadeByStep(overlay.image);
      expectWorkdirMadeByStep(walk.image);
      expect(await leftovers()).toEqual([]);
    }, 600_000);
  }

  it('refuses a RUN mount inside a working directory the step must make, with overlay (it could not reach the layer); walk builds it', async () => {
    const lines = ['FROM scratch', 'COPY rootfs /', 'COPY net/ /etc/', 'WORKDIR /gone', 'RUN rmdir /gone', 'RUN --mount=type=bind,source=net,target=mnt ls mnt'];
    const isolation = mounted[0];
    if (isolation === undefined) return;
    await expect(buildLines(context, lines, { isolation, snapshot: 'overlay' })).rejects.toMatchObject({
      code: 'RUN_WORKDIR_MOUNT',
      message: expect.stringContaining("Dockerfile:6: the working directory /gone is missing, and the step's mount at /gone/mnt is inside it"),
    });
    const walk = await buildLines(context, lines, { isolation, snapshot: 'walk' });
    expect(names(walk.image.layers.at(-1)).filter((n) => n.includes('gone'))).toEqual(['directory gone/ 755 0:0']);
    expect(await leftovers()).toEqual([]);
  }, 600_000);

  it('mounts an overlay with at least one runner here', () => {
    expect(mounted.length).toBeGreaterThan(0);
  });

  it('mounts it volatile where the kernel has the option (5.10+): its unmount syncs nothing, a step\'s fsync is free', async () => {
    const isolation = mounted[0];
    if (isolation === undefined) throw new Error('no runner mounted an overlay here');
    const { image } = await buildLines(context, [...DOCKERFILE.slice(0, 4), 'RUN grep "^hoist-overlay " /proc/mounts > /overlay-mount'], { isolation, snapshot: 'overlay' });
    const line = flatten(image.layers).get('overlay-mount')?.content.toString('utf8') ?? '';
    expect(line).toMatch(/^hoist-overlay \S+ overlay /);
    const [major = 0, minor = 0] = release().split('.').map(Number);
    const options = line.split(' ')[3]?.split(',') ?? [];
    // Shown as `volatile` by the kernels that brought it, as `fsync=volatile` since 6.x.
    expect(options.includes('volatile') || options.includes('fsync=volatile')).toBe(major > 5 || (major === 5 && minor >= 10));
  }, 600_000);

  it('falls back to walk with proot under auto, and refuses an explicit overlay there', async () => {
    let auto: Awaited<ReturnType<typeof hoistBuild>>;
    try {
      auto = await hoistBuild({ isolation: 'proot' });
    } catch (err) {
      expect((err as { code?: string }).code).toBe('RUN_NO_RUNNER');
      return;
    }
    expect(snapshotMessage(auto.events)).toMatch(/^RUN steps use --snapshot walk \(not overlay: the proot runner cannot mount an overlay\)/);
    expectWorkdirMadeByStep(auto.image);
    await expect(hoistBuild({ isolation: 'proot', snapshot: 'overlay' })).rejects.toMatchObject({
      code: 'SNAPSHOT_OVERLAY_UNAVAILABLE',
      message: expect.stringContaining('proot'),
    });
    expect(await leftovers()).toEqual([]);
  }, 600_000);
});
