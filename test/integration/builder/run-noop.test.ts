/**
 * A RUN that changes nothing gives an empty layer, whatever the runner
 * bound in for the step (resolv.conf, hosts) and however it did that.
 */
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { RUNNER_KINDS } from '../../../src/run/index.js';
import { scratchTmpdir } from '../../helpers/scratch-tmpdir.js';
import { makeBusyboxRootfs } from '../../helpers/busybox-rootfs.js';
import { BUSYBOX_BASE, buildLines, tempDir } from '../../helpers/build.js';
import { type ReadImage } from '../../helpers/oci-reader.js';

/** BuildKit's layer for a step that changed nothing (moby/buildkit exptypes.EmptyGZLayer), and its diffID. */
const EMPTY_GZ_LAYER = 'sha256:4f4fb700ef54461cfa02571ae0db9a0dc1e0cdb5577484a6d75e68dc38e8acc1';
const EMPTY_TAR = 'sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef';

let context: string;

async function hoistBuild(lines: string[], isolation: (typeof RUNNER_KINDS)[number]): Promise<ReadImage> {
  return (await buildLines(context, [...BUSYBOX_BASE, ...lines], { isolation })).image;
}

scratchTmpdir('hoist-noop-tmp-');

beforeAll(async () => {
  context = tempDir('hoist-noop-ctx-');
  await makeBusyboxRootfs(path.join(context, 'rootfs'));
}, 300_000);

describe('a RUN that changes nothing', () => {
  for (const kind of RUNNER_KINDS) {
    it(`gives an empty layer with --isolation ${kind} (and a layer with only what a second step changed)`, async () => {
      let image: ReadImage;
      try {
        image = await hoistBuild(['FROM base', 'RUN true', 'RUN cat /etc/resolv.conf /etc/hosts > /dev/null; true', 'RUN touch /etc/x'], kind);
      } catch (err) {
        expect((err as { code?: string }).code).toBe('RUN_NO_RUNNER');
        return;
      }
      const [noop, reads, touch] = image.layers.slice(-3);
      expect(noop?.map((m) => m.name)).toEqual([]);
      expect(reads?.map((m) => m.name)).toEqual([]);
      expect(touch?.map((m) => m.name)).toEqual(['etc/', 'etc/x']);
      // Every RUN keeps its layer, as BuildKit does; an empty one is BuildKit's empty layer, byte for byte.
      const layers = image.manifest.layers as Array<{ digest: string; size: number }>;
      for (const at of [-3, -2]) expect(layers.at(at)).toMatchObject({ digest: EMPTY_GZ_LAYER, size: 32 });
      expect(image.config.rootfs.diff_ids.slice(-3, -1)).toEqual([EMPTY_TAR, EMPTY_TAR]);
      expect(layers.at(-1)?.digest).not.toBe(EMPTY_GZ_LAYER);
      expect(image.config.history.slice(-3).every((h: { empty_layer?: boolean }) => h.empty_layer !== true)).toBe(true);
      expect(image.config.rootfs.diff_ids.length).toBe(image.layers.length);
    }, 300_000);
  }
});
