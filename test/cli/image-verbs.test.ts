import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/build.js';
import { buildCli, hoist } from '../helpers/cli.js';
import { readDockerArchive, readOciLayout, readTar } from '../helpers/oci-reader.js';
import { ensureDebianPackages, startRegistry, type RunningRegistry } from '../helpers/registry/index.js';

// skopeo checks what the verbs push.
beforeAll(() => ensureDebianPackages(['skopeo']), 15 * 60_000);

describe('image verbs', () => {
  let out: string;
  let cache: string;
  let archive: string;
  let digest: string;
  let registry: RunningRegistry;
  const run = (args: string[], opts: { input?: string; env?: Record<string, string> } = {}) => hoist([...args, '--cache-dir', cache], opts);

  beforeAll(async () => {
    buildCli();
    out = tempDir('hoist-verbs-');
    cache = path.join(out, 'cache');
    archive = path.join(out, 'hello.tar');
    const r = run(['build', 'testdata/examples/hello', '-t', 'hello:1.0', '--output', `type=oci,dest=${archive}`]);
    expect(r.status).toBe(0);
    digest = r.stdout.trim();
    registry = await startRegistry();
  });
  afterAll(async () => registry?.stop());

  it('digest, manifest and config read any location', () => {
    expect(run(['digest', `oci-archive:${archive}`]).stdout.trim()).toBe(digest);
    const manifest = JSON.parse(run(['manifest', `oci-archive:${archive}`]).stdout);
    expect(manifest.schemaVersion).toBe(2);
    const config = JSON.parse(run(['config', `oci-archive:${archive}`]).stdout);
    expect(config.config.User).toBe('1000:1000');
  });

  it('copy goes between local formats and keeps the digest for OCI', async () => {
    const layout = path.join(out, 'layout');
    expect(run(['copy', `oci-archive:${archive}`, `oci-layout:${layout}:v2`]).stdout.trim()).toBe(digest);
    expect((await readOciLayout(layout, 'v2')).manifestDigest).toBe(digest);
    const docker = path.join(out, 'docker.tar');
    expect(run(['copy', `oci-layout:${layout}:v2`, `docker-archive:${docker}:hello:v3`]).status).toBe(0);
    expect((await readDockerArchive(docker)).manifest[0]?.RepoTags).toEqual(['hello:v3']);
  });

  it('push, ls, pull, and skopeo agree on the digest', async () => {
    const ref = `${registry.host}/team/hello`;
    expect(run(['push', `oci-archive:${archive}`, `${ref}:1.0`]).stdout.trim()).toBe(digest);
    expect(run(['copy', `oci-archive:${archive}`, `docker://${ref}:latest`]).stdout.trim()).toBe(digest);
    expect(run(['ls', ref]).stdout.trim().split('\n').sort()).toEqual(['1.0', 'latest']);
    expect(run(['digest', `${ref}:1.0`]).stdout.trim()).toBe(digest);
    const skopeo = execFileSync('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${ref}:1.0`]);
    expect(`sha256:${createHash('sha256').update(skopeo).digest('hex')}`).toBe(digest);
    const pulled = path.join(out, 'pulled');
    expect(run(['pull', `${ref}:1.0`, `oci-layout:${pulled}:x`]).stdout.trim()).toBe(digest);
    expect((await readOciLayout(pulled, 'x')).manifestDigest).toBe(digest);
  });

  it('export writes the flattened filesystem', async () => {
    const file = path.join(out, 'fs.tar');
    expect(run(['export', `oci-archive:${archive}`, file]).status).toBe(0);
    const names = (await readTar(readFileSync(file))).map((m) => m.name);
    expect(names).toContain('srv/app/greeting.txt');
    expect(names).toContain('etc/motd');
  });

  it('bad references and unknown images exit 1 and name the reference', () => {
    const bad = run(['digest', 'Not//Valid']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('"Not//Valid"');
    const unknown = run(['digest', `${registry.host}/no/such:tag`]);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain(`${registry.host}/no/such:tag`);
    const missingFile = run(['digest', `oci-archive:${path.join(out, 'nope.tar')}`]);
    expect(missingFile.status).toBe(1);
  });

  it('a layout that lost a layer file says which blob, where, and what to do', async () => {
    const layout = path.join(out, 'broken-layout');
    expect(run(['copy', `oci-archive:${archive}`, `oci-layout:${layout}:v1`]).status).toBe(0);
    const layer = (await readOciLayout(layout, 'v1')).manifest.layers[0].digest as string;
    rmSync(path.join(layout, 'blobs', ...layer.split(':')));
    const r = run(['copy', `oci-layout:${layout}:v1`, `oci-archive:${path.join(out, 'from-broken.tar')}`]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`error: blob ${layer} is not in ${layout}`);
    expect(r.stderr).toContain(`hint: the layout at ${layout} lists this blob but its file under blobs/ is gone`);
    expect(existsSync(path.join(out, 'from-broken.tar'))).toBe(false);
  });
});

describe('hoist build --push / --destination', () => {
  let registry: RunningRegistry;
  beforeAll(async () => {
    buildCli();
    registry = await startRegistry();
  });
  afterAll(async () => registry?.stop());

  it('pushes every tag; --destination is Kaniko\'s spelling; the digest file applies to pushes', () => {
    const out = tempDir('hoist-pushcli-');
    const ref = `${registry.host}/built/hello`;
    const r = hoist([
      'build', 'testdata/examples/hello', '--push', '-t', `${ref}:1`, '--destination', `${ref}:2`,
      '--digest-file', path.join(out, 'digest'), '--cache-dir', path.join(out, 'cache'),
    ]);
    expect(r.stderr).toContain(`pushed ${ref}:1`);
    expect(r.status).toBe(0);
    const digest = r.stdout.trim();
    expect(readFileSync(path.join(out, 'digest'), 'utf8')).toBe(digest);
    for (const tag of ['1', '2']) {
      const raw = execFileSync('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${ref}:${tag}`]);
      expect(`sha256:${createHash('sha256').update(raw).digest('hex')}`).toBe(digest);
    }
  });

  it('builds FROM an image in the registry, fetching no layer it does not need', () => {
    const out = tempDir('hoist-frombase-');
    const base = `${registry.host}/built/hello:1`;
    const cache = path.join(out, 'cache');
    const r = hoist(['build', 'testdata/examples/hello', '-f', '-', '--push', '-t', `${registry.host}/built/child:1`, '--cache-dir', cache], {
      input: `FROM ${base}\nLABEL child=yes\n`,
    });
    expect(r.stderr).toMatch(new RegExp(`\\npushed ${registry.host}/built/child:1\\n$`));
    expect(r.stderr).not.toContain('warning');
    expect(r.status).toBe(0);
    const config = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', '--config', `docker://${registry.host}/built/child:1`]).toString());
    expect(config.config.Labels).toEqual({ child: 'yes' });
    expect(config.config.Cmd).toEqual(['cat', '/srv/app/greeting.txt']);
    // Layers went registry-to-registry (mounted or already there): none was downloaded into the store.
    const manifest = JSON.parse(execFileSync('skopeo', ['inspect', '--tls-verify=false', '--raw', `docker://${base}`]).toString());
    const blobs = path.join(cache, 'blobs', 'sha256');
    const stored = new Set(existsSync(blobs) ? readdirSync(blobs) : []);
    const layers = (manifest.layers as Array<{ digest: string }>).map((l) => l.digest.slice('sha256:'.length));
    expect(layers.length).toBe(3);
    expect(layers.filter((hex) => stored.has(hex))).toEqual([]);
    // Progress shows the config read while the base is opened, and no layer download.
    expect(r.stderr).toContain(`load metadata for ${base}`);
    for (const hex of layers) expect(r.stderr).not.toContain(`download sha256:${hex.slice(0, 12)}`);
  });
});
