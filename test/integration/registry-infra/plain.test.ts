import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEDIA, pushTestImage, startRegistry, type RunningRegistry } from '../../helpers/registry/index.js';
import { ACCEPT_ALL_MANIFESTS, header, http } from './util.js';

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('plain HTTP registry', () => {
  let reg: RunningRegistry;
  beforeAll(async () => {
    reg = await startRegistry();
  });
  afterAll(async () => {
    await reg?.stop();
  });

  it('serves /v2/ on a loopback port over plain HTTP', async () => {
    expect(reg.url).toBe(`http://${reg.host}`);
    expect(reg.host).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(reg.caCertPem).toBeUndefined();
    expect(reg.username).toBeUndefined();
    expect(existsSync(reg.storageDir)).toBe(true);
    const r = await http(`${reg.url}/v2/`);
    expect(r.status).toBe(200);
    expect(header(r, 'docker-distribution-api-version')).toBe('registry/2.0');
  });

  it('pushTestImage writes an OCI image that reads back byte for byte', async () => {
    const pushed = await pushTestImage(reg, 'infra/plain', 'v1', { layers: 3, layerSize: 10_000 });
    expect(pushed.indexDigest).toBeUndefined();
    expect(pushed.layers).toHaveLength(3);
    expect(pushed.mediaType).toBe(MEDIA.ociManifest);

    const m = await http(`${reg.url}/v2/infra/plain/manifests/v1`, { headers: { accept: MEDIA.ociManifest } });
    expect(m.status).toBe(200);
    expect(header(m, 'content-type')).toBe(MEDIA.ociManifest);
    expect(header(m, 'docker-content-digest')).toBe(pushed.manifestDigest);
    expect(sha(m.body)).toBe(pushed.manifestDigest);
    const manifest = JSON.parse(m.body.toString('utf8')) as { config: { digest: string }; layers: Array<{ digest: string; size: number }> };
    expect(manifest.config.digest).toBe(pushed.configDigest);
    expect(manifest.layers.map((l) => l.digest)).toEqual(pushed.layers.map((l) => l.digest));

    const cfg = await http(`${reg.url}/v2/infra/plain/blobs/${pushed.configDigest}`);
    expect(sha(cfg.body)).toBe(pushed.configDigest);
    const config = JSON.parse(cfg.body.toString('utf8')) as { rootfs: { diff_ids: string[] }; architecture: string; os: string };
    expect(config.rootfs.diff_ids).toEqual(pushed.layers.map((l) => l.diffId));
    expect([config.os, config.architecture]).toEqual(['linux', 'amd64']);

    for (const l of pushed.layers) {
      const b = await http(`${reg.url}/v2/infra/plain/blobs/${l.digest}`);
      expect(b.status).toBe(200);
      expect(b.body.length).toBe(l.size);
      expect(sha(b.body)).toBe(l.digest);
      expect(sha(gunzipSync(b.body))).toBe(l.diffId);
      expect(l.size).toBeGreaterThan(10_000); // random data does not compress
      const head = await http(`${reg.url}/v2/infra/plain/blobs/${l.digest}`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(header(head, 'content-length')).toBe(String(l.size));
      expect(header(head, 'docker-content-digest')).toBe(l.digest);
    }
  });

  it('content is seeded: the same repo, tag and options give the same digests', async () => {
    const a = await pushTestImage(reg, 'infra/seeded', 'same');
    const b = await pushTestImage(reg, 'infra/seeded', 'same');
    const c = await pushTestImage(reg, 'infra/seeded', 'same', { seed: 'other' });
    expect(b.manifestDigest).toBe(a.manifestDigest);
    expect(c.manifestDigest).not.toBe(a.manifestDigest);
  });

  it('serves byte ranges of blobs (206, Content-Range, Accept-Ranges)', async () => {
    const pushed = await pushTestImage(reg, 'infra/range', 'v1', { layers: 1, layerSize: 5000 });
    const l = pushed.layers[0]!;
    const full = await http(`${reg.url}/v2/infra/range/blobs/${l.digest}`);
    expect(header(full, 'accept-ranges')).toBe('bytes');
    const part = await http(`${reg.url}/v2/infra/range/blobs/${l.digest}`, { headers: { range: 'bytes=100-' } });
    expect(part.status).toBe(206);
    expect(header(part, 'content-range')).toBe(`bytes 100-${l.size - 1}/${l.size}`);
    expect(part.body.equals(full.body.subarray(100))).toBe(true);
  });

  it('pushes a multi-platform index with Docker media types', async () => {
    const pushed = await pushTestImage(reg, 'infra/multi', 'v1', { platforms: ['linux/amd64', 'linux/arm64/v8'], dockerMediaTypes: true });
    expect(pushed.indexDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(pushed.manifests).toHaveLength(2);
    expect(pushed.mediaType).toBe(MEDIA.dockerManifestList);

    const idx = await http(`${reg.url}/v2/infra/multi/manifests/v1`, { headers: { accept: ACCEPT_ALL_MANIFESTS } });
    expect(idx.status).toBe(200);
    expect(header(idx, 'content-type')).toBe(MEDIA.dockerManifestList);
    expect(sha(idx.body)).toBe(pushed.indexDigest);
    const index = JSON.parse(idx.body.toString('utf8')) as { manifests: Array<{ digest: string; platform: { architecture: string; variant?: string } }> };
    expect(index.manifests.map((d) => d.platform.architecture)).toEqual(['amd64', 'arm64']);
    expect(index.manifests[1]!.platform.variant).toBe('v8');
    expect(index.manifests[0]!.digest).toBe(pushed.manifestDigest);

    for (const d of index.manifests) {
      const m = await http(`${reg.url}/v2/infra/multi/manifests/${d.digest}`, { headers: { accept: MEDIA.dockerManifest } });
      expect(m.status).toBe(200);
      expect(header(m, 'content-type')).toBe(MEDIA.dockerManifest);
      expect(sha(m.body)).toBe(d.digest);
    }
    // Different platforms get different layer content.
    expect(pushed.manifests[0]!.layers[0]!.digest).not.toBe(pushed.manifests[1]!.layers[0]!.digest);
  });

  it('gotcha: an OCI index is 404 MANIFEST_UNKNOWN unless Accept names the OCI index type', async () => {
    const pushed = await pushTestImage(reg, 'infra/ociindex', 'v1', { platforms: ['linux/amd64', 'linux/arm64'] });
    const bare = await http(`${reg.url}/v2/infra/ociindex/manifests/v1`);
    expect(bare.status).toBe(404);
    expect(bare.body.toString('utf8')).toContain('MANIFEST_UNKNOWN');
    const ok = await http(`${reg.url}/v2/infra/ociindex/manifests/v1`, { headers: { accept: MEDIA.ociIndex } });
    expect(ok.status).toBe(200);
    expect(header(ok, 'docker-content-digest')).toBe(pushed.indexDigest);
  });

  it('gotcha: a Docker schema 2 manifest asked for without its media type in Accept comes back as schema 1', async () => {
    const pushed = await pushTestImage(reg, 'infra/docker', 'v1', { dockerMediaTypes: true });
    const bare = await http(`${reg.url}/v2/infra/docker/manifests/v1`);
    expect(bare.status).toBe(200);
    expect(header(bare, 'content-type')).toBe('application/vnd.docker.distribution.manifest.v1+prettyjws');
    expect(sha(bare.body)).not.toBe(pushed.manifestDigest);
    const ociOnly = await http(`${reg.url}/v2/infra/docker/manifests/v1`, { headers: { accept: MEDIA.ociManifest } });
    expect(header(ociOnly, 'content-type')).toBe('application/vnd.docker.distribution.manifest.v1+prettyjws');
    const ok = await http(`${reg.url}/v2/infra/docker/manifests/v1`, { headers: { accept: ACCEPT_ALL_MANIFESTS } });
    expect(header(ok, 'content-type')).toBe(MEDIA.dockerManifest);
    expect(sha(ok.body)).toBe(pushed.manifestDigest);
    // An OCI manifest is never converted: without an OCI Accept it is a 404.
    await pushTestImage(reg, 'infra/ocimf', 'v1');
    const oci = await http(`${reg.url}/v2/infra/ocimf/manifests/v1`, { headers: { accept: MEDIA.dockerManifest } });
    expect(oci.status).toBe(404);
    expect(oci.body.toString('utf8')).toContain('OCI manifest found, but accept header does not support OCI manifests');
  });

  it('gotcha: a monolithic POST ?digest= is not completed (202 + Location): always finish with PUT', async () => {
    const data = Buffer.from('monolithic');
    const post = await http(`${reg.url}/v2/infra/mono/blobs/uploads/?digest=${sha(data)}`, {
      method: 'POST',
      body: data,
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(post.status).toBe(202);
    const head = await http(`${reg.url}/v2/infra/mono/blobs/${sha(data)}`, { method: 'HEAD' });
    expect(head.status).toBe(404);
  });

  it('error bodies, tags list, catalog, manifest DELETE', async () => {
    const pushed = await pushTestImage(reg, 'infra/misc', 'v1', { layers: 1 });
    await pushTestImage(reg, 'infra/misc', 'v2', { layers: 1 });
    const blob = await http(`${reg.url}/v2/infra/misc/blobs/sha256:${'0'.repeat(64)}`);
    expect(blob.status).toBe(404);
    expect(JSON.parse(blob.body.toString('utf8'))).toMatchObject({ errors: [{ code: 'BLOB_UNKNOWN' }] });
    const tag = await http(`${reg.url}/v2/infra/misc/manifests/nope`);
    expect(JSON.parse(tag.body.toString('utf8'))).toMatchObject({ errors: [{ code: 'MANIFEST_UNKNOWN' }] });
    const repo = await http(`${reg.url}/v2/infra/none/tags/list`);
    expect(JSON.parse(repo.body.toString('utf8'))).toMatchObject({ errors: [{ code: 'NAME_UNKNOWN' }] });
    const tags = await http(`${reg.url}/v2/infra/misc/tags/list`);
    expect(JSON.parse(tags.body.toString('utf8'))).toEqual({ name: 'infra/misc', tags: ['v1', 'v2'] });
    const catalog = await http(`${reg.url}/v2/_catalog`);
    expect((JSON.parse(catalog.body.toString('utf8')) as { repositories: string[] }).repositories).toContain('infra/misc');

    const st = await http(`${reg.url}/v2/infra/misc/blobs/uploads/`, { method: 'POST' });
    const wrong = await http(`${header(st, 'location')!}&digest=sha256:${'1'.repeat(64)}`, { method: 'PUT', body: 'abc' });
    expect(wrong.status).toBe(400);
    expect(JSON.parse(wrong.body.toString('utf8'))).toMatchObject({ errors: [{ code: 'DIGEST_INVALID' }] });

    const del = await http(`${reg.url}/v2/infra/misc/manifests/${pushed.manifestDigest}`, { method: 'DELETE' });
    expect(del.status).toBe(202);
    const gone = await http(`${reg.url}/v2/infra/misc/manifests/v1`, { headers: { accept: MEDIA.ociManifest } });
    expect(gone.status).toBe(404);
  });

  it('upload protocol: absolute Location (from the Host header), Range 0-N inclusive, Docker-Upload-UUID', async () => {
    const post = await http(`${reg.url}/v2/infra/upload/blobs/uploads/`, { method: 'POST' });
    expect(post.status).toBe(202);
    const loc = header(post, 'location')!;
    expect(loc.startsWith(`${reg.url}/v2/infra/upload/blobs/uploads/`)).toBe(true);
    expect(loc).toContain('?_state=');
    expect(header(post, 'range')).toBe('0-0');
    expect(header(post, 'docker-upload-uuid')).toMatch(/^[0-9a-f-]{36}$/);

    const data = Buffer.from('hello chunked upload');
    const patch = await http(loc, { method: 'PATCH', body: data, headers: { 'content-type': 'application/octet-stream' } });
    expect(patch.status).toBe(202);
    expect(header(patch, 'range')).toBe(`0-${data.length - 1}`);
    const loc2 = header(patch, 'location')!;
    expect(loc2).not.toBe(loc); // the _state changes: always follow the newest Location

    const put = await http(`${loc2}&digest=${sha(data)}`, { method: 'PUT' });
    expect(put.status).toBe(201);
    expect(header(put, 'location')).toBe(`${reg.url}/v2/infra/upload/blobs/${sha(data)}`);
    expect(header(put, 'docker-content-digest')).toBe(sha(data));

    // The Host header decides the Location's authority.
    const other = await http(`${reg.url}/v2/infra/upload/blobs/uploads/`, { method: 'POST', headers: { host: 'example.test:1234' } });
    expect(header(other, 'location')!.startsWith('http://example.test:1234/v2/')).toBe(true);
  });

  it('stop() kills the registry and removes its temp dirs (and is idempotent)', async () => {
    const r2 = await startRegistry();
    await pushTestImage(r2, 'x/y', 'z', { layers: 1 });
    await r2.stop();
    await r2.stop();
    expect(existsSync(r2.storageDir)).toBe(false);
    await expect(http(`${r2.url}/v2/`)).rejects.toThrow();
  });

  it('relativeUrls: upload Locations are relative paths', async () => {
    const r3 = await startRegistry({ relativeUrls: true });
    try {
      const post = await http(`${r3.url}/v2/infra/rel/blobs/uploads/`, { method: 'POST' });
      expect(post.status).toBe(202);
      expect(header(post, 'location')).toMatch(/^\/v2\/infra\/rel\/blobs\/uploads\/[0-9a-f-]{36}\?_state=/);
      const pushed = await pushTestImage(r3, 'infra/rel', 'v1'); // the pusher resolves relative Locations
      expect(pushed.layers).toHaveLength(2);
    } finally {
      await r3.stop();
    }
  });
});
