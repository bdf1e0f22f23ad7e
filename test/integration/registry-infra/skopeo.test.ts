/**
 * skopeo (the client engineer's interop oracle) can write into these
 * registries: from an OCI layout we write ourselves, and registry to
 * registry, including the token (bearer) setup, with and without TLS.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MEDIA,
  buildTestImage,
  ensureDebianPackages,
  fetchToken,
  pushTestImage,
  startRegistry,
  writeTestOciLayout,
  type RunningRegistry,
} from '../../helpers/registry/index.js';
import { ACCEPT_ALL_MANIFESTS, header, http } from './util.js';

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

let tmp: string;

function skopeo(args: string[]): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    // A private, empty auth file: the machine's own credentials must not leak in.
    const child = spawn('skopeo', ['--insecure-policy', ...args], {
      env: { ...process.env, REGISTRY_AUTH_FILE: path.join(tmp, 'auth.json') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => chunks.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, out: Buffer.concat(chunks).toString('utf8') });
    });
  });
}

async function skopeoOk(args: string[]): Promise<string> {
  const r = await skopeo(args);
  if (r.status !== 0) throw new Error(`skopeo ${args.join(' ')} exited ${r.status}\n${r.out}`);
  return r.out;
}

describe('skopeo writes into the test registries', () => {
  let plain: RunningRegistry;
  let token: RunningRegistry;
  let tokenTls: RunningRegistry;
  let layout: string;
  let layoutImage: Awaited<ReturnType<typeof buildTestImage>>;

  beforeAll(async () => {
    await ensureDebianPackages(['skopeo']);
    tmp = await mkdtemp(path.join(os.tmpdir(), 'hoist-skopeo-'));
    await writeFile(path.join(tmp, 'auth.json'), '{"auths":{}}');
    [plain, token, tokenTls] = await Promise.all([
      startRegistry(),
      startRegistry({ auth: 'token' }),
      startRegistry({ auth: 'token', tls: true }),
    ]);
    layout = path.join(tmp, 'layout');
    layoutImage = await buildTestImage('layout/src', 'v1', { layers: 2, platforms: ['linux/amd64', 'linux/arm64'] });
    await writeTestOciLayout(layout, layoutImage, 'v1');
  });
  afterAll(async () => {
    await Promise.all([plain?.stop(), token?.stop(), tokenTls?.stop()]);
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('oci layout -> plain registry (--dest-tls-verify=false, --all keeps the index digest)', async () => {
    await skopeoOk(['copy', '--all', '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${plain.host}/sk/fromlayout:v1`]);
    const idx = await http(`${plain.url}/v2/sk/fromlayout/manifests/v1`, { headers: { accept: ACCEPT_ALL_MANIFESTS } });
    expect(idx.status).toBe(200);
    expect(header(idx, 'content-type')).toBe(MEDIA.ociIndex);
    expect(sha(idx.body)).toBe(layoutImage.index!.digest);
    for (const m of layoutImage.manifests) {
      for (const l of m.layers) {
        const b = await http(`${plain.url}/v2/sk/fromlayout/blobs/${l.digest}`, { method: 'HEAD' });
        expect(b.status).toBe(200);
      }
    }
  });

  it('plain registry -> token registry with --dest-creds', async () => {
    const pushed = await pushTestImage(plain, 'sk/src', 'v1');
    token.resetTokenRequests!();
    await skopeoOk([
      'copy',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      '--dest-creds',
      `${token.username}:${token.password}`,
      `docker://${plain.host}/sk/src:v1`,
      `docker://${token.host}/sk/dst:v1`,
    ]);
    const bearer = await fetchToken(token, ['repository:sk/dst:pull']);
    const m = await http(`${token.url}/v2/sk/dst/manifests/v1`, { headers: { accept: MEDIA.ociManifest, authorization: `Bearer ${bearer}` } });
    expect(m.status).toBe(200);
    expect(sha(m.body)).toBe(pushed.manifestDigest);
    // skopeo went through the token server with Basic credentials and a push scope.
    const seen = token.tokenRequests!().filter((r) => r.status === 200 && r.authorization?.startsWith('Basic '));
    expect(seen.some((r) => r.scope.includes('repository:sk/dst:pull,push'))).toBe(true);
    expect(seen.every((r) => r.account === undefined || r.account === token.username)).toBe(true);
  });

  it('skopeo reads back from the token registry (inspect with --creds)', async () => {
    const out = await skopeoOk(['inspect', '--raw', '--tls-verify=false', '--creds', `${token.username}:${token.password}`, `docker://${token.host}/sk/dst:v1`]);
    expect(JSON.parse(out)).toMatchObject({ schemaVersion: 2, mediaType: MEDIA.ociManifest });
  });

  it('a wrong password makes skopeo fail', async () => {
    const r = await skopeo(['inspect', '--raw', '--tls-verify=false', '--creds', `${token.username}:wrong`, `docker://${token.host}/sk/dst:v1`]);
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/401|unauthorized|authentication required/i);
  });

  it('oci layout -> token + TLS registry, trusting the CA with --dest-cert-dir', async () => {
    await skopeoOk([
      'copy',
      '--all',
      '--dest-cert-dir',
      path.dirname(tokenTls.caCertFile!),
      '--dest-creds',
      `${tokenTls.username}:${tokenTls.password}`,
      `oci:${layout}:v1`,
      `docker://${tokenTls.host}/sk/tls:v1`,
    ]);
    const bearer = await fetchToken(tokenTls, ['repository:sk/tls:pull']);
    const idx = await http(`${tokenTls.url}/v2/sk/tls/manifests/v1`, {
      dispatcher: tokenTls.dispatcher,
      headers: { accept: ACCEPT_ALL_MANIFESTS, authorization: `Bearer ${bearer}` },
    });
    expect(idx.status).toBe(200);
    expect(sha(idx.body)).toBe(layoutImage.index!.digest);
  });
});
