/**
 * RUN end to end: a busybox base made in a first stage, steps run by each
 * runner that works on this machine, and the layers read back independently.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BuildOptions } from '../../../src/builder/executor/build.js';
import type { BuildEvent } from '../../../src/builder/events.js';
import { RUNNER_KINDS, type RunnerKind } from '../../../src/run/index.js';
import { scratchTmpdir } from '../../helpers/scratch-tmpdir.js';
import { APP_GID, APP_UID, makeBusyboxRootfs } from '../../helpers/busybox-rootfs.js';
import { BUSYBOX_BASE, buildLines, tempDir } from '../../helpers/build.js';
import { type ReadImage, type TarMember } from '../../helpers/oci-reader.js';

let context: string;
const scratch = scratchTmpdir('hoist-run-tmp-');

async function hoistBuild(lines: string[], extra: Partial<BuildOptions> = {}): Promise<{ image: ReadImage; events: BuildEvent[] }> {
  return buildLines(context, [...BUSYBOX_BASE, ...lines], extra);
}

/** What a layer says, without the times (each build has its own). */
function summary(layer: TarMember[]): string[] {
  return layer.map((m) => `${m.type} ${m.name} ${m.mode.toString(8)} ${m.uid}:${m.gid} ${m.linkname ?? ''} ${m.type === 'file' ? m.content.toString('base64') : ''}`);
}

/** Every build's scratch space is under `scratch` (TMPDIR): empty means every rootfs was removed. */
async function leftovers(): Promise<string[]> {
  return (await readdir(scratch.dir)).filter((name) => name.startsWith('hoist-build-'));
}

beforeAll(async () => {
  context = tempDir('hoist-run-ctx-');
  await makeBusyboxRootfs(path.join(context, 'rootfs'));
}, 300_000);

const STEPS = ['FROM base', 'RUN echo hi > /hello && mkdir /d && rm -f /bin/ls', 'USER app', 'RUN touch /tmp/x && id -u > /tmp/id'];

describe('RUN', () => {
  const layersBy = new Map<RunnerKind, string[][]>();
  const working: RunnerKind[] = [];

  for (const kind of RUNNER_KINDS) {
    it(`runs steps with --isolation ${kind}: new files, deletions as whiteouts, a non-root USER's owner`, async () => {
      let built: Awaited<ReturnType<typeof hoistBuild>>;
      try {
        built = await hoistBuild(STEPS, { isolation: kind });
      } catch (err) {
        // A runner that cannot work on this machine says so, and why, before anything runs.
        expect((err as { code?: string }).code).toBe('RUN_NO_RUNNER');
        expect(await leftovers()).toEqual([]);
        return;
      }
      working.push(kind);
      const { image, events } = built;
      // The runner and why: a note, not a warning, and once per build.
      expect(events.filter((e) => e.type === 'note' && e.code === 'RUNNER').map((e) => (e as { message: string }).message)).toEqual([expect.stringContaining(`--isolation ${kind}`)]);
      expect(events.some((e) => e.type === 'warning' && e.code === 'RUNNER')).toBe(false);
      const layers = image.layers;
      const first = layers[layers.length - 2] as TarMember[];
      const second = layers[layers.length - 1] as TarMember[];
      const byName = (layer: TarMember[], name: string) => layer.find((m) => m.name.replace(/\/$/, '') === name);
      expect(byName(first, 'hello')).toMatchObject({ type: 'file', uid: 0, gid: 0 });
      expect(byName(first, 'hello')?.content.toString()).toBe('hi\n');
      expect(byName(first, 'd')).toMatchObject({ type: 'directory', uid: 0, gid: 0 });
      expect(byName(first, 'bin/.wh.ls')).toBeDefined();
      expect(first.some((m) => /^(proc|dev|sys)(\/|$)/.test(m.name) || m.name === 'etc/resolv.conf' || m.name === 'etc/hosts')).toBe(false);
      expect(byName(second, 'tmp/x')).toMatchObject({ type: 'file', uid: APP_UID, gid: APP_GID });
      expect(byName(second, 'tmp/id')?.content.toString()).toBe(`${APP_UID}\n`);
      expect(image.config.history.at(-1).created_by).toBe('RUN /bin/sh -c touch /tmp/x && id -u > /tmp/id # buildkit');
      expect(await leftovers()).toEqual([]);
      layersBy.set(kind, [summary(first), summary(second)]);
    }, 300_000);
  }

  const rootLayers = new Map<RunnerKind, string[]>();
  for (const kind of RUNNER_KINDS) {
    it(`runs root steps with --isolation ${kind} where it works for them`, async () => {
      let built: Awaited<ReturnType<typeof hoistBuild>>;
      try {
        built = await hoistBuild(STEPS.slice(0, 2), { isolation: kind });
      } catch (err) {
        expect((err as { code?: string }).code).toBe('RUN_NO_RUNNER');
        return;
      }
      const layer = built.image.layers.at(-1) as TarMember[];
      expect(layer.find((m) => m.name === 'bin/.wh.ls')).toBeDefined();
      rootLayers.set(kind, summary(layer));
    }, 300_000);
  }

  it('gives the same root-step layer with every runner that can run it', () => {
    const all = [...rootLayers.values()];
    expect(all.length).toBeGreaterThan(0);
    for (const other of all.slice(1)) expect(other).toEqual(all[0]);
  });

  it('gives the same layers with every runner that works here', () => {
    expect(working.length).toBeGreaterThan(0);
    const [reference, ...others] = working.map((k) => layersBy.get(k));
    for (const other of others) expect(other).toEqual(reference);
  });

  it('fails a step that exits non-zero, at its line, with its output, and removes the rootfs', async () => {
    const events: BuildEvent[] = [];
    const failing = hoistBuild(['FROM base', 'RUN echo before', 'RUN echo oops >&2 && exit 3'], { onEvent: (e) => events.push(e) });
    await expect(failing).rejects.toMatchObject({ code: 'RUN_FAILED' });
    const err = (await failing.catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/Dockerfile:5: RUN echo oops >&2 && exit 3 failed with exit code 3\noops$/);
    expect((err as { hint?: string }).hint).toMatch(/^the output above is what the step printed/);
    expect(events.some((e) => e.type === 'step-log' && e.stream === 'stderr' && e.text === 'oops')).toBe(true);
    expect(events.some((e) => e.type === 'step-log' && e.stream === 'stdout' && e.text === 'before')).toBe(true);
    expect(await leftovers()).toEqual([]);
    const silent = (await hoistBuild(['FROM base', 'RUN exit 4']).catch((e: unknown) => e)) as Error & { hint?: string };
    expect(silent.message).toMatch(/Dockerfile:4: RUN exit 4 failed with exit code 4$/);
    expect(silent.hint).toMatch(/^the step printed nothing/);
  }, 300_000);

  it('stops a running step on abort and removes the rootfs', async () => {
    const abort = new AbortController();
    const started = hoistBuild(['FROM base', 'RUN echo started && sleep 600'], {
      signal: abort.signal,
      onEvent: (e) => {
        if (e.type === 'step-log' && e.text === 'started') abort.abort(new Error('stopped by the test'));
      },
    });
    await expect(started).rejects.toThrow('stopped by the test');
    expect(await leftovers()).toEqual([]);
  }, 300_000);

  it('lets COPY after RUN in the same stage, and the next RUN, see both', async () => {
    const { image } = await hoistBuild(['FROM base', 'RUN echo one > /one', 'COPY rootfs/etc/group /copied', 'RUN cat /one /copied > /both']);
    const last = image.layers.at(-1) as TarMember[];
    const both = last.find((m) => m.name === 'both');
    expect(both?.content.toString()).toMatch(/^one\nroot:x:0:/);
    expect(last.some((m) => m.name === 'copied' || m.name === 'one')).toBe(false);
  }, 300_000);

  it('COPY --from a stage that ran steps, and a stage FROM it, see what the steps made', async () => {
    const { image } = await hoistBuild([
      'FROM base AS made',
      'RUN echo made > /made && rm /etc/group',
      'FROM made AS child',
      'RUN cat /made > /seen; test ! -e /etc/group && echo gone >> /seen',
      'FROM scratch',
      'COPY --from=made /made /copied',
      'COPY --from=child /seen /seen',
    ]);
    const files = new Map(image.layers.flat().map((m) => [m.name, m.content.toString()]));
    expect(files.get('copied')).toBe('made\n');
    expect(files.get('seen')).toBe('made\ngone\n');
  }, 300_000);

  it('runs heredocs: a lone heredoc through SHELL, and a command that reads heredocs', async () => {
    const { image } = await hoistBuild(['FROM base', 'RUN <<EOF', 'echo one > /one', 'echo two >> /one', 'EOF', 'RUN cat > /two <<A && cat >> /two <<B', 'a', 'A', 'b', 'B']);
    const files = new Map(image.layers.flat().map((m) => [m.name, m.content.toString()]));
    expect(files.get('one')).toBe('one\ntwo\n');
    expect(files.get('two')).toBe('a\nb\n');
  }, 300_000);

  for (const kind of RUNNER_KINDS) {
    it(`runs a heredoc that starts with #! as a file at /dev/pipes with --isolation ${kind}, and nothing of /dev/pipes reaches the layer`, async () => {
      let built: Awaited<ReturnType<typeof hoistBuild>>;
      try {
        built = await hoistBuild(['FROM base', 'RUN <<EOF', '#!/bin/sh', 'echo "$0" > /script-name', 'cat "$0" > /script-copy', 'ls -l "$0" | cut -c1-10 > /script-mode', 'EOF'], { isolation: kind });
      } catch (err) {
        expect((err as { code?: string }).code).toBe('RUN_NO_RUNNER');
        return;
      }
      const layer = built.image.layers.at(-1) as TarMember[];
      expect(layer.map((m) => m.name).sort()).toEqual(['script-copy', 'script-mode', 'script-name']);
      const files = new Map(layer.map((m) => [m.name, m.content.toString()]));
      expect(files.get('script-name')).toBe('/dev/pipes/EOF\n');
      expect(files.get('script-copy')).toBe('#!/bin/sh\necho "$0" > /script-name\ncat "$0" > /script-copy\nls -l "$0" | cut -c1-10 > /script-mode\n');
      expect(files.get('script-mode')).toBe('-rwxr-xr-x\n');
      expect(await leftovers()).toEqual([]);
    }, 300_000);
  }

  it('refuses --security=insecure, and a mount of an unknown type, at the line', async () => {
    await expect(hoistBuild(['FROM base', 'RUN --security=insecure true'])).rejects.toMatchObject({ code: 'RUN_INSECURE', message: expect.stringContaining('Dockerfile:4:') });
    await expect(hoistBuild(['FROM base', 'RUN --mount=type=volume,target=/c true'])).rejects.toMatchObject({
      message: expect.stringMatching(/Dockerfile:4: .*unsupported mount type "volume"/),
      hint: expect.stringContaining('type=bind|cache|tmpfs|secret|ssh'),
    });
    expect(await leftovers()).toEqual([]);
  }, 300_000);

  it('gives the step the image ENV, ARGs in scope, WORKDIR (made if missing) and exec form as given, and nothing of hoist', async () => {
    process.env.HOIST_SECRET_FOR_TEST = 'leak';
    try {
      const { image } = await hoistBuild(
        ['FROM base', 'ENV A=1', 'ARG B=2', 'WORKDIR /w', 'RUN ["/bin/sh", "-c", "env | sort > /w/env; pwd > /w/pwd; ln -s /w /link"]', 'WORKDIR /link', 'RUN pwd -P > here'],
        { buildArgs: new Map([['B', '3']]) },
      );
      const last = image.layers.at(-2) as TarMember[];
      const env = last.find((m) => m.name === 'w/env')?.content.toString() ?? '';
      expect(env).toMatch(/^A=1$/m);
      expect(env).toMatch(/^B=3$/m);
      expect(env).toMatch(/^HOME=\/root$/m);
      expect(env).not.toContain('HOIST_SECRET_FOR_TEST');
      expect(env).not.toContain(scratch.dir);
      expect(last.find((m) => m.name === 'w/pwd')?.content.toString()).toBe('/w\n');
      expect(image.config.config.Env).not.toContain('B=3');
      expect(last.find((m) => m.name === 'w/pwd')).toBeDefined();
      expect(image.layers.flat().find((m) => m.name === 'w/here')?.content.toString()).toBe('/w\n');
    } finally {
      delete process.env.HOIST_SECRET_FOR_TEST;
    }
  }, 300_000);
});
