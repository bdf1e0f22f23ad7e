/**
 * The Kaniko drop-in (issue 10): a GitLab-style Kaniko job's command line,
 * unchanged apart from the executable, against a real registry. The base
 * image is named as on Docker Hub and found through --registry-mirror, so
 * the test needs no network.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeContext, tempDir } from '../helpers/build.js';
import { buildCli, hoist, REPO_ROOT } from '../helpers/cli.js';
import { readDockerArchive, readOciLayout, sha256 } from '../helpers/oci-reader.js';
import { pushTestImage, startRegistry, type RunningRegistry } from '../helpers/registry/index.js';

const CLI = fileURLToPath(new URL('../../dist/bin/hoist.cjs', import.meta.url));
const MANIFEST_TYPES = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';

async function getManifest(reg: RunningRegistry, repo: string, ref: string): Promise<{ raw: Buffer; json: any }> {
  const res = await request(`${reg.url}/v2/${repo}/manifests/${ref}`, { headers: { accept: MANIFEST_TYPES } });
  expect(res.statusCode).toBe(200);
  const raw = Buffer.from(await res.body.arrayBuffer());
  return { raw, json: JSON.parse(raw.toString('utf8')) };
}

async function getBlobJson(reg: RunningRegistry, repo: string, digest: string): Promise<any> {
  const res = await request(`${reg.url}/v2/${repo}/blobs/${digest}`);
  expect(res.statusCode).toBe(200);
  return JSON.parse(Buffer.from(await res.body.arrayBuffer()).toString('utf8'));
}

describe('hoist build with a Kaniko command line', () => {
  let reg: RunningRegistry;
  let cache: string;
  beforeAll(async () => {
    buildCli();
    reg = await startRegistry();
    // What `FROM docker.io/library/base:1` finds through the mirror.
    await pushTestImage(reg, 'library/base', '1', { layers: 1, layerSize: 512 });
    cache = path.join(tempDir('hoist-kaniko-cache-'), 'cache');
  }, 120_000);
  afterAll(async () => reg?.stop());

  it('runs a GitLab-style job: pushes every destination and writes the digest files and the tar', async () => {
    const project = makeContext({
      Dockerfile: 'ARG BASE=docker.io/library/base:1\nFROM ${BASE}\nARG X\nLABEL from.arg=$X\nCOPY hello.txt /hello.txt\n',
      'hello.txt': 'hello from the project\n',
    });
    const out = tempDir('hoist-kaniko-out-');
    const tag = 'v1.2.3';
    const registryImage = `${reg.host}/group/app`;
    // As in .gitlab-ci.yml, with /kaniko/executor replaced by hoist build.
    const r = hoist([
      'build',
      '--context', project,
      '--dockerfile', `${project}/Dockerfile`,
      `--destination=${registryImage}:${tag}`,
      '--destination', `${registryImage}:latest`,
      '--build-arg', 'X=1',
      '--cache=true',
      '--cache-ttl=24h',
      '--snapshot-mode=redo',
      '--use-new-run',
      '--verbosity', 'info',
      `--registry-mirror=${reg.host}`,
      '--insecure',
      '--skip-tls-verify-pull=true',
      '--reproducible',
      '--label', 'org.opencontainers.image.source=https://gitlab.example.com/group/app',
      '--digest-file', path.join(out, 'digest'),
      '--image-name-with-digest-file', path.join(out, 'name-digest'),
      '--image-name-tag-with-digest-file', path.join(out, 'sub', 'name-tag-digest'),
      '--tar-path', path.join(out, 'image.tar'),
      '--cache-dir', cache,
    ]);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.status).toBe(0);
    expect(r.stderr).not.toContain('note: --cache');
    expect(r.stderr).not.toContain('note: --cache-ttl');
    expect(r.stderr).toContain('note: --snapshot-mode');

    const digest = readFileSync(path.join(out, 'digest'), 'utf8');
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    for (const t of [tag, 'latest']) {
      const pushed = await getManifest(reg, 'group/app', t);
      expect(sha256(pushed.raw)).toBe(digest);
    }
    expect(readFileSync(path.join(out, 'name-digest'), 'utf8')).toBe(`${registryImage}@${digest}\n${registryImage}@${digest}\n`);
    expect(readFileSync(path.join(out, 'sub', 'name-tag-digest'), 'utf8')).toBe(`${registryImage}:${tag}@${digest}\n${registryImage}:latest@${digest}\n`);

    const { json: manifest } = await getManifest(reg, 'group/app', tag);
    const config = await getBlobJson(reg, 'group/app', manifest.config.digest);
    // The base's own label shows the image came through the mirror.
    expect(config.config.Labels).toEqual({ 'org.hoist.test': 'library/base:1', 'from.arg': '1', 'org.opencontainers.image.source': 'https://gitlab.example.com/group/app' });
    // --reproducible: no timestamp from the clock.
    expect(config.created).toBe('1970-01-01T00:00:00Z');
    expect(manifest.layers).toHaveLength(2); // the base's layer (through the mirror) and the COPY

    const archive = await readDockerArchive(path.join(out, 'image.tar'));
    expect(archive.manifest[0]?.RepoTags).toEqual([`${registryImage}:${tag}`, `${registryImage}:latest`]);
    expect(archive.config.rootfs.diff_ids).toEqual(config.rootfs.diff_ids);
    const copied = archive.layers[1]?.find((m) => m.name === 'hello.txt');
    expect(copied?.content.toString()).toBe('hello from the project\n');
    expect(copied?.mtime).toBe(0);

    // --cache=true without --cache-repo: the steps are recorded in Kaniko's default, DESTINATION-REPO/cache.
    const tags = await request(`${reg.url}/v2/group/app/cache/tags/list`);
    expect(tags.statusCode).toBe(200);
    const listed = (JSON.parse(Buffer.from(await tags.body.arrayBuffer()).toString('utf8')) as { tags: string[] }).tags;
    expect(listed).toHaveLength(1); // the COPY (LABEL is replayed, not stored)
    expect(listed[0]).toMatch(/^hoist-[0-9a-f]{64}$/);
  }, 120_000);

  it('builds a tar.gz context with --no-push into an OCI layout, with the Dockerfile named inside the context', async () => {
    const src = makeContext({ 'docker/app.Dockerfile': 'FROM scratch\nCOPY a.txt /\n', 'a.txt': 'A\n' });
    const out = tempDir('hoist-kaniko-tgz-');
    const tgz = path.join(out, 'context.tar.gz');
    expect(spawnSync('tar', ['-czf', tgz, '-C', src, '.']).status).toBe(0);
    const r = hoist([
      'build',
      `--context=tar://${tgz}`,
      '--dockerfile=docker/app.Dockerfile',
      '--destination', `${reg.host}/group/never-pushed:1`,
      '--no-push',
      '--oci-layout-path', path.join(out, 'layout'),
      '--annotation', 'org.opencontainers.image.revision=abc123',
      '--iidfile', path.join(out, 'iid'),
      '--metadata-file', path.join(out, 'metadata.json'),
      '--cache-dir', cache,
    ]);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.status).toBe(0);
    const image = await readOciLayout(path.join(out, 'layout'));
    expect(image.manifest.annotations).toEqual({ 'org.opencontainers.image.revision': 'abc123' });
    expect(image.layers[0]?.map((m) => m.name)).toEqual(['a.txt']);
    expect(readFileSync(path.join(out, 'iid'), 'utf8')).toBe(image.manifest.config.digest);
    const metadata = JSON.parse(readFileSync(path.join(out, 'metadata.json'), 'utf8'));
    expect(metadata['containerimage.digest']).toBe(image.manifestDigest);
    expect(metadata['image.name']).toBe(`${reg.host}/group/never-pushed:1`);
    const res = await request(`${reg.url}/v2/group/never-pushed/manifests/1`, { headers: { accept: MANIFEST_TYPES } });
    await res.body.dump();
    expect(res.statusCode).toBe(404);
  }, 120_000);

  it('reads a tar.gz context from standard input (tar://stdin) and builds without an output when told --no-push; -q keeps stderr empty', async () => {
    const src = makeContext({ Dockerfile: 'FROM scratch\nCOPY b.txt /\n', 'b.txt': 'B\n' });
    const out = tempDir('hoist-kaniko-stdin-');
    const tgz = path.join(out, 'context.tar.gz');
    expect(spawnSync('tar', ['-czf', tgz, '-C', src, '.']).status).toBe(0);
    const r = spawnSync(process.execPath, [CLI, 'build', '--context', 'tar://stdin', '--no-push', '--cache=true', '-q', '--digest-file', path.join(out, 'digest'), '--cache-dir', cache], {
      cwd: REPO_ROOT,
      input: readFileSync(tgz),
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe(''); // --quiet: not even the note about --cache
    expect(readFileSync(path.join(out, 'digest'), 'utf8')).toBe(r.stdout.trim());
    // The unpacked context is gone after the build: the cache keeps no digests of its files.
    const digests = readFileSync(path.join(cache, 'context-digests.json'), 'utf8');
    expect(digests).toMatch(/^hoist\.cache\.file-digests\/v2\n/);
    expect(digests).not.toContain('hoist-context-');
  }, 120_000);

  it("--build-context NAME=docker-image://REF replaces the image NAME (buildx's flag)", async () => {
    const project = makeContext({ Dockerfile: 'FROM app-base\nLABEL built=yes\n' });
    const out = tempDir('hoist-kaniko-named-');
    const r = hoist(['build', project, '--build-context', `app-base=docker-image://${reg.host}/library/base:1`, '--output', `type=oci-layout,dest=${out}/layout`, '--cache-dir', cache]);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.status).toBe(0);
    const image = await readOciLayout(path.join(out, 'layout'));
    expect(image.config.config.Labels).toEqual({ 'org.hoist.test': 'library/base:1', built: 'yes' });
  }, 120_000);
});
