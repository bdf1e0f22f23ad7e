import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, makeContext, tempDir } from '../helpers/build.js';
import { ensureDebianPackages } from '../helpers/packages.js';

/** podman with its own storage in temp dirs; nothing is run, so no runtime is needed. */
describe('podman load reads what hoist writes', () => {
  const root = tempDir('hoist-podman-');
  const podman = (...args: string[]): string =>
    execFileSync('podman', ['--root', path.join(root, 'root'), '--runroot', path.join(root, 'run'), '--storage-driver', 'vfs', ...args], {
      encoding: 'utf8',
      env: { ...process.env, CONTAINERS_CONF: path.join(root, 'containers.conf') },
    });
  let docker: string;
  let oci: string;
  let configDigest: string;

  beforeAll(async () => {
    await ensureDebianPackages(['podman']);
    // The settings ../shared/TESTBED.md found necessary for podman 4.3 here.
    mkdirSync(root, { recursive: true });
    writeFileSync(
      path.join(root, 'containers.conf'),
      '[containers]\nnetns = "none"\n[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n',
    );
    const ctx = makeContext({ 'hello.txt': 'hello', 'bin/tool': { content: '#!/bin/sh\n', mode: 0o755 } });
    const out = tempDir('hoist-podman-out-');
    docker = path.join(out, 'docker.tar');
    oci = path.join(out, 'oci.tar');
    const { image } = await buildImage('FROM scratch\nCOPY . /app/\nENV GREETING=hi\nCMD ["/app/bin/tool"]\n', ctx, {
      tags: ['localhost/hoist-test:1'],
      outputs: [
        { type: 'docker', dest: docker },
        { type: 'oci', dest: oci },
      ],
    });
    configDigest = image.manifest.config.digest;
  });
  afterAll(() => {
    try {
      podman('system', 'reset', '-f');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('loads the docker-archive with its tag and the same image id', () => {
    expect(podman('load', '-i', docker)).toContain('localhost/hoist-test:1');
    const id = podman('image', 'inspect', 'localhost/hoist-test:1', '--format', '{{.Id}}').trim();
    expect(`sha256:${id}`).toBe(configDigest);
    const env = podman('image', 'inspect', 'localhost/hoist-test:1', '--format', '{{json .Config.Env}}');
    expect(JSON.parse(env)).toContain('GREETING=hi');
  });

  it('loads the OCI archive too', () => {
    const out = podman('load', '-i', oci);
    expect(out).toMatch(/Loaded image/);
    expect(podman('images', '--format', '{{.Id}}', '--no-trunc')).toContain(configDigest.slice('sha256:'.length));
  });
});
