import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BlobStore } from '../../../src/oci/index.js';
import { buildImage, makeContext, tempDir } from '../../helpers/build.js';
import { readDockerArchive, readOciArchive, readOciLayout } from '../../helpers/oci-reader.js';

const ctx = makeContext({ 'app.txt': 'app' });

describe('image assembly', () => {
  it('writes every metadata instruction into the config, as BuildKit does', async () => {
    const { image } = await buildImage(
      [
        'FROM scratch',
        'ENV A=1 B="two words"',
        'LABEL org.example.a=x "org.example.b"="y z"',
        'MAINTAINER someone <s@example.com>',
        'EXPOSE 80 53/udp 8000-8001',
        'VOLUME /data /logs',
        'USER 1000:1000',
        'WORKDIR /srv',
        'STOPSIGNAL SIGQUIT',
        'HEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD /bin/check',
        'ONBUILD COPY . /src',
        'SHELL ["/bin/bash", "-o", "pipefail", "-c"]',
        'ENTRYPOINT ["/entry"]',
        'CMD run --fast',
      ].join('\n'),
      ctx,
    );
    const c = image.config;
    expect(c.architecture).toBe('amd64');
    expect(c.os).toBe('linux');
    expect(c.author).toBe('someone <s@example.com>');
    expect(c.config).toEqual({
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'A=1', 'B=two words'],
      Labels: { 'org.example.a': 'x', 'org.example.b': 'y z' },
      ExposedPorts: { '80/tcp': {}, '53/udp': {}, '8000/tcp': {}, '8001/tcp': {} },
      Volumes: { '/data': {}, '/logs': {} },
      User: '1000:1000',
      WorkingDir: '/srv',
      StopSignal: 'SIGQUIT',
      Healthcheck: { Test: ['CMD-SHELL', '/bin/check'], Interval: 30e9, Timeout: 5e9, Retries: 3 },
      OnBuild: ['COPY . /src'],
      Shell: ['/bin/bash', '-o', 'pipefail', '-c'],
      Entrypoint: ['/entry'],
      Cmd: ['/bin/bash', '-o', 'pipefail', '-c', 'run --fast'],
    });
  });

  it('keeps one history entry per step, marking metadata-only steps empty_layer', async () => {
    const { image } = await buildImage('FROM scratch\nENV A=1\nCOPY app.txt /\nWORKDIR /w\nWORKDIR /w\nARG V=3\nLABEL l=$V\n', ctx);
    const h = image.config.history.map((e: { created_by: string; empty_layer?: boolean }) => [e.created_by, e.empty_layer ?? false]);
    expect(h).toEqual([
      ['ENV A=1', true],
      ['COPY app.txt /', false],
      ['WORKDIR /w', false],
      ['WORKDIR /w', true],
      ['ARG V=3', true],
      ['LABEL l=3', true],
    ]);
    expect(image.config.rootfs.diff_ids).toHaveLength(2);
    expect(image.manifest.layers).toHaveLength(2);
  });

  it('WORKDIR creates its directory 0755 in a layer, owned by USER', async () => {
    const { files, image } = await buildImage('FROM scratch\nUSER 1000:1000\nWORKDIR /home/app\n', ctx);
    expect(files.get('home/app')).toMatchObject({ mode: 0o755, uid: 1000, gid: 1000 });
    expect(image.layers[0]?.map((m) => m.name.replace(/\/$/, ''))).toEqual(['home', 'home/app']);
  });

  it('ENTRYPOINT drops a CMD inherited from the parent stage', async () => {
    const { image } = await buildImage('FROM scratch AS base\nCMD ["base"]\nFROM base\nENTRYPOINT ["/e"]\n', ctx);
    expect(image.config.config.Cmd).toBeUndefined();
    const keep = await buildImage('FROM scratch AS base\nCMD ["base"]\nFROM base\nCMD ["own"]\nENTRYPOINT ["/e"]\n', ctx);
    expect(keep.image.config.config.Cmd).toEqual(['own']);
  });

  it('FROM scratch starts from BuildKit\'s empty image: PATH and WorkingDir "/"', async () => {
    const { image, result } = await buildImage('FROM scratch\nLABEL a=b\n', ctx);
    expect(image.config.config).toEqual({
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      WorkingDir: '/',
      Labels: { a: 'b' },
    });
    expect(result.digest).toMatch(/^sha256:/);
  });

  it('CMD [] and ENTRYPOINT [] clear them (omitted from the config, as BuildKit writes it)', async () => {
    const { image, result } = await buildImage('FROM scratch AS base\nENTRYPOINT ["/e"]\nCMD ["base"]\nFROM base\nCMD []\n', ctx);
    expect(image.config.config.Cmd).toBeUndefined();
    expect(image.config.config.Entrypoint).toEqual(['/e']);
    expect(image.config.history.at(-1)).toMatchObject({ created_by: 'CMD []', empty_layer: true });
    const raw = JSON.stringify(image.config);
    expect(raw).not.toContain('"Cmd"');
    expect(result.digest).toMatch(/^sha256:/);

    const cleared = await buildImage('FROM scratch AS base\nENTRYPOINT ["/e"]\nCMD ["base"]\nFROM base\nENTRYPOINT []\n', ctx);
    expect(cleared.image.config.config.Entrypoint).toBeUndefined();
    // ENTRYPOINT drops the inherited CMD, even when it clears the entrypoint.
    expect(cleared.image.config.config.Cmd).toBeUndefined();

    const own = await buildImage('FROM scratch\nCMD ["own"]\nENTRYPOINT []\n', ctx);
    expect(own.image.config.config.Cmd).toEqual(['own']);
    expect(own.image.config.config.Entrypoint).toBeUndefined();
  });

  it('a stage FROM another inherits its layers, config and history; ONBUILD triggers run and are cleared', async () => {
    const { image, files } = await buildImage('FROM scratch AS base\nENV X=1\nONBUILD COPY app.txt /from-trigger\nFROM base\nCOPY app.txt /own\n', ctx);
    expect(files.has('from-trigger')).toBe(true);
    expect(files.has('own')).toBe(true);
    expect(image.config.config.OnBuild).toBeUndefined();
    expect(image.config.config.Env).toContain('X=1');
  });

  it('RUN in an empty stage fails at its line: there is no shell to run it', async () => {
    await expect(buildImage('FROM scratch\nRUN true\n', ctx)).rejects.toThrow(/Dockerfile:2: RUN true failed with exit code 12[67]/);
  });
});

describe('reproducibility and timestamps', () => {
  it('with SOURCE_DATE_EPOCH two builds give the same digest, and mtimes are clamped', async () => {
    const c = makeContext({ 'f': { content: 'f', mtime: 2_000_000_000 } });
    const df = 'FROM scratch\nWORKDIR /w\nCOPY f /w/\nLABEL a=b\n';
    const one = await buildImage(df, c, { epoch: 1_700_000_000, now: new Date('2030-01-01T00:00:00Z') });
    const two = await buildImage(df, c, { epoch: 1_700_000_000, now: new Date('2031-05-05T00:00:00Z') });
    expect(one.result.digest).toBe(two.result.digest);
    expect(one.image.config.created).toBe('2023-11-14T22:13:20Z');
    expect(one.files.get('w/f')?.mtime).toBe(1_700_000_000);
    expect(one.files.get('w')?.mtime).toBe(1_700_000_000);
  });

  it('without it, created is now', async () => {
    const now = new Date('2026-01-02T03:04:05Z');
    const { image } = await buildImage('FROM scratch\nLABEL a=b\n', ctx, { now });
    expect(image.config.created).toBe('2026-01-02T03:04:05Z');
  });
});

describe('outputs', () => {
  it('writes an OCI archive, a layout and a docker archive of the same image', async () => {
    const out = tempDir('hoist-outs-');
    const { result } = await buildImage('FROM scratch\nCOPY app.txt /\n', ctx, {
      tags: ['example.com/team/app:1.0'],
      outputs: [
        { type: 'oci', dest: path.join(out, 'image.tar') },
        { type: 'oci-layout', dest: path.join(out, 'layout') },
        { type: 'docker', dest: path.join(out, 'docker.tar') },
      ],
    });
    const archive = await readOciArchive(path.join(out, 'image.tar'), '1.0');
    expect(archive.manifestDigest).toBe(result.digest);
    expect(archive.index.manifests[0].annotations['org.opencontainers.image.ref.name']).toBe('1.0');
    const layout = await readOciLayout(path.join(out, 'layout'), '1.0');
    expect(layout.manifestDigest).toBe(result.digest);
    const docker = await readDockerArchive(path.join(out, 'docker.tar'));
    expect(docker.manifest[0]?.RepoTags).toEqual(['example.com/team/app:1.0']);
    expect(docker.config.rootfs.diff_ids).toEqual(archive.config.rootfs.diff_ids);
    expect(docker.layers[0]?.map((m) => m.name)).toEqual(['app.txt']);
  });

  it('adds to an existing layout directory', async () => {
    const dir = path.join(tempDir('hoist-layout-'), 'l');
    await buildImage('FROM scratch\nLABEL v=1\n', ctx, { tags: ['a:one'], outputs: [{ type: 'oci-layout', dest: dir }] });
    await buildImage('FROM scratch\nLABEL v=2\n', ctx, { tags: ['a:two'], outputs: [{ type: 'oci-layout', dest: dir }] });
    const index = JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8'));
    expect(index.manifests.map((m: { annotations: Record<string, string> }) => m.annotations['org.opencontainers.image.ref.name']).sort()).toEqual(['one', 'two']);
    expect((await readOciLayout(dir, 'two')).config.config.Labels).toEqual({ v: '2' });
  });

  it('a failed build leaves no output file behind', async () => {
    const out = tempDir('hoist-fail-');
    const dest = path.join(out, 'image.tar');
    await expect(buildImage('FROM scratch\nCOPY missing /\n', ctx, { outputs: [{ type: 'oci', dest }] })).rejects.toThrow('not found');
    expect(existsSync(dest)).toBe(false);
    expect(readdirSync(out)).toEqual([]);
  });
});

describe('the blob store under concurrent builds', () => {
  it('two builds at once against one store both succeed and leave every blob intact', async () => {
    const big = makeContext({ 'a.bin': 'x'.repeat(3_000_000), 'b.bin': 'y'.repeat(2_000_000) });
    const store = tempDir('hoist-shared-store-');
    const df = 'FROM scratch\nCOPY a.bin /a\nCOPY b.bin /b\nLABEL x=1\n';
    const [one, two] = await Promise.all([
      buildImage(df, big, { store, epoch: 1 }),
      buildImage(df, big, { store, epoch: 1 }),
    ]);
    expect(one.result.digest).toBe(two.result.digest);
    const s = new BlobStore(store);
    for (const layer of one.image.manifest.layers as Array<{ digest: `sha256:${string}`; size: number }>) {
      expect(await s.has(layer.digest)).toBe(true);
      const chunks: Buffer[] = [];
      for await (const c of await s.open(layer.digest, layer.size)) chunks.push(c as Buffer);
      expect(Buffer.concat(chunks).length).toBe(layer.size);
    }
    const leftovers = readdirSync(path.join(store, 'blobs', 'sha256')).filter((n) => n.includes('tmp'));
    expect(leftovers).toEqual([]);
  });
});
