/**
 * A stage's files after a RUN: COPY, WORKDIR and --chown read the rootfs
 * the steps changed, and a stage built FROM a stage with a rootfs takes it
 * over (nothing reads the earlier stage again) or copies it (something
 * does), never unpacking the layers again, and never changing what the
 * earlier stage's readers see.
 */
import { readdir } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BuildOptions } from '../../../src/builder/executor/build.js';
import type { BuildEvent } from '../../../src/builder/events.js';
import { scratchTmpdir } from '../../helpers/scratch-tmpdir.js';
import { APP_GID, APP_UID, makeBusyboxRootfs } from '../../helpers/busybox-rootfs.js';
import { BUSYBOX_BASE, buildLines, tempDir } from '../../helpers/build.js';
import { type ReadImage, type TarMember } from '../../helpers/oci-reader.js';

let context: string;
const scratch = scratchTmpdir('hoist-stagefiles-tmp-');

/** The rootfs directories of the running build, when the last step starts. */
interface Built {
  image: ReadImage;
  events: BuildEvent[];
  rootfsDirsAtLastStep: number;
}

function rootfsDirs(): number {
  let n = 0;
  for (const build of readdirSync(scratch.dir).filter((name) => name.startsWith('hoist-build-'))) {
    n += readdirSync(path.join(scratch.dir, build)).filter((name) => name.startsWith('rootfs-')).length;
  }
  return n;
}

async function hoistBuild(lines: string[], extra: Partial<BuildOptions> = {}): Promise<Built> {
  const dockerfile = [...BUSYBOX_BASE, ...lines];
  let rootfsDirsAtLastStep = -1;
  const { image, events } = await buildLines(context, dockerfile, {
    onEvent: (e) => {
      if (e.type === 'step-start' && e.location.line === dockerfile.length) rootfsDirsAtLastStep = rootfsDirs();
    },
    ...extra,
  });
  return { image, events, rootfsDirsAtLastStep };
}

function contents(image: ReadImage): Map<string, string> {
  return new Map(image.layers.flat().filter((m) => m.type === 'file').map((m) => [m.name, m.content.toString()]));
}

beforeAll(async () => {
  context = tempDir('hoist-stagefiles-ctx-');
  await makeBusyboxRootfs(path.join(context, 'rootfs'));
}, 300_000);

describe('the files of a stage after RUN', () => {
  it('COPY --chown, COPY through a symlink and WORKDIR read what the steps made', async () => {
    const { image } = await hoistBuild([
      'FROM base',
      'USER app',
      'WORKDIR /real',
      'USER root',
      'RUN ln -s /real /link && echo made:x:2000:2001::/:/bin/sh >> /etc/passwd && echo madeg:x:2001: >> /etc/group',
      'COPY --chown=made:madeg rootfs/etc/group /link/',
      'WORKDIR /link',
      'RUN pwd -P > /where && cat group > /copied-seen',
    ]);
    const copy = image.layers.at(-2) as TarMember[];
    // The destination went through the symlink the RUN made; the directory keeps the owner it has in the rootfs.
    expect(copy.map((m) => m.name).sort()).toEqual(['real/', 'real/group']);
    expect(copy.find((m) => m.name === 'real/group')).toMatchObject({ uid: 2000, gid: 2001 });
    expect(copy.find((m) => m.name === 'real/')).toMatchObject({ uid: APP_UID, gid: APP_GID });
    // WORKDIR found the directory through the link: no layer.
    expect(image.config.history.at(-2)).toMatchObject({ created_by: 'WORKDIR /link', empty_layer: true });
    const files = contents(image);
    expect(files.get('where')).toBe('/real\n');
    expect(files.get('copied-seen')).toMatch(/^root:x:0:/);
  }, 300_000);

  it('hands the rootfs of a stage that nothing reads again to the stage built FROM it', async () => {
    const { image, rootfsDirsAtLastStep } = await hoistBuild([
      'FROM base AS builder',
      'RUN echo b > /b',
      'FROM builder AS next',
      'RUN echo n >> /b',
      'FROM scratch',
      'COPY --from=next /b /nb',
    ]);
    expect(contents(image).get('nb')).toBe('b\nn\n');
    // One rootfs: builder's, now next's (the layers were not unpacked a second time).
    expect(rootfsDirsAtLastStep).toBe(1);
  }, 300_000);

  it('copies the rootfs for the stage FROM it when the earlier stage is read later, which still sees its own files', async () => {
    const { image, rootfsDirsAtLastStep } = await hoistBuild([
      'FROM base AS builder',
      'RUN echo b > /b',
      'FROM builder AS next',
      'RUN echo n >> /b && rm /bin/ls',
      'FROM scratch',
      'COPY --from=next /b /nb',
      'COPY --from=builder /b /bin/ls /from-builder/',
    ]);
    const files = contents(image);
    expect(files.get('nb')).toBe('b\nn\n');
    expect(files.get('from-builder/b')).toBe('b\n');
    expect(image.layers.flat().some((m) => m.name === 'from-builder/ls')).toBe(true);
    expect(rootfsDirsAtLastStep).toBe(2);
  }, 300_000);

  it('keeps a rootfs that a stage FROM it still reads unchanged (read later through that stage)', async () => {
    const { image } = await hoistBuild([
      'FROM base AS builder',
      'RUN echo b > /b',
      'FROM builder AS meta',
      'ENV X=1',
      'FROM builder AS next',
      'RUN echo n >> /b',
      'FROM scratch',
      'COPY --from=next /b /nb',
      'COPY --from=meta /b /mb',
    ]);
    const files = contents(image);
    expect(files.get('nb')).toBe('b\nn\n');
    expect(files.get('mb')).toBe('b\n');
  }, 300_000);

  it('a stage FROM a stage with a rootfs COPYs onto a copy of it, not onto the earlier stage', async () => {
    const { image } = await hoistBuild([
      'FROM base AS builder',
      'RUN echo b > /b',
      'FROM builder AS next',
      'COPY rootfs/etc/group /b',
      'RUN cat /b > /seen',
      'FROM scratch',
      'COPY --from=next /seen /seen',
      'COPY --from=builder /b /b',
    ]);
    const files = contents(image);
    expect(files.get('seen')).toMatch(/^root:x:0:/);
    expect(files.get('b')).toBe('b\n');
  }, 300_000);

  it('leaves no rootfs behind', async () => {
    expect((await readdir(scratch.dir)).filter((name) => name.startsWith('hoist-build-'))).toEqual([]);
  });
});
