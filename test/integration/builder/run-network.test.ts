/**
 * RUN --network from a build: `none` leaves the step only a loopback of its
 * own (the test registry listening on the host's 127.0.0.1 is out of reach),
 * `default` and `host` share the host's network (it is reachable).
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUNNER_KINDS, type Isolation } from '../../../src/run/index.js';
import { scratchTmpdir } from '../../helpers/scratch-tmpdir.js';
import { makeBusyboxRootfs } from '../../helpers/busybox-rootfs.js';
import { BUSYBOX_BASE, buildLines, tempDir } from '../../helpers/build.js';
import { type ReadImage } from '../../helpers/oci-reader.js';
import { startRegistry, type RunningRegistry } from '../../helpers/registry/index.js';

let context: string;
let registry: RunningRegistry;

async function hoistBuild(lines: string[], isolation: Isolation): Promise<ReadImage> {
  return (await buildLines(context, [...BUSYBOX_BASE, ...lines], { isolation })).image;
}

/**
 * A step that records whether the registry answered, and which network
 * interfaces the step had. (Debian's busybox-static wget crashes with -T,
 * so there is no timeout; in an empty network namespace lo is down and the
 * connection fails at once.)
 */
function probe(flag: string, name: string): string {
  const url = `${registry.url}/v2/`;
  return `RUN ${flag} sed -n '3,$p' /proc/net/dev | cut -d: -f1 | tr -d ' ' > /${name}-ifaces; if wget -O /${name}-body ${url} 2>/dev/null; then echo reached > /${name}; else echo unreachable > /${name}; fi`;
}

scratchTmpdir('hoist-net-tmp-');

beforeAll(async () => {
  registry = await startRegistry();
  context = tempDir('hoist-net-ctx-');
  await makeBusyboxRootfs(path.join(context, 'rootfs'));
}, 300_000);

afterAll(async () => {
  await registry?.stop();
});

describe('RUN --network', () => {
  const kinds: Isolation[] = ['auto', ...RUNNER_KINDS];
  let isolated = 0;
  for (const kind of kinds) {
    it(`--isolation ${kind}: none cannot reach the registry on the host's loopback and has only lo; default and host can`, async () => {
      let image: ReadImage;
      try {
        image = await hoistBuild(['FROM base', probe('--network=none', 'none'), probe('', 'default'), probe('--network=host', 'host')], kind);
      } catch (err) {
        // A runner that cannot make a network namespace refuses the build before it runs anything.
        expect(kind).not.toBe('auto');
        expect((err as { code?: string }).code).toBe('RUN_NO_RUNNER');
        expect((err as Error).message).toContain('--network=none');
        return;
      }
      isolated++;
      const files = new Map(image.layers.flat().filter((m) => m.type === 'file').map((m) => [m.name, m.content.toString()]));
      expect(files.get('none')).toBe('unreachable\n');
      expect(files.get('none-ifaces')).toBe('lo\n');
      expect(files.get('default')).toBe('reached\n');
      expect(files.get('default-body')).toBe('{}');
      expect(files.get('host')).toBe('reached\n');
      // The host's interfaces: more than a loopback of its own is not guaranteed, but lo is there.
      expect(files.get('default-ifaces')).toMatch(/^lo$/m);
    }, 300_000);
  }

  it('found a runner here that isolates the network', () => {
    expect(isolated).toBeGreaterThan(0);
  });
});
