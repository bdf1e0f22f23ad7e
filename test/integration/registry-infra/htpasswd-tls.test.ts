import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEDIA, basicAuth, pushTestImage, startRegistry, type RunningRegistry } from '../../helpers/registry/index.js';
import { header, http, parseChallenge } from './util.js';

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('htpasswd (basic auth) + TLS registry', () => {
  let reg: RunningRegistry;
  let agent: Agent;
  beforeAll(async () => {
    reg = await startRegistry({ auth: 'htpasswd', username: 'alice', password: 'wonder land' });
    agent = new Agent({ connect: { ca: reg.caCertPem! } });
  });
  afterAll(async () => {
    await agent?.close();
    await reg?.stop();
  });

  it('serves HTTPS with a CA-signed cert for 127.0.0.1 and localhost; the CA is written to a dir of its own', () => {
    expect(reg.url).toBe(`https://${reg.host}`);
    expect(reg.tls).toBe(true);
    expect(reg.caCertPem).toContain('BEGIN CERTIFICATE');
    expect(readFileSync(reg.caCertFile!, 'utf8')).toBe(reg.caCertPem);
    expect(path.basename(reg.caCertFile!)).toBe('ca.crt');
    expect(readdirSync(path.dirname(reg.caCertFile!))).toEqual(['ca.crt']); // usable as skopeo --cert-dir
    const ca = new X509Certificate(reg.caCertPem!);
    expect(ca.ca).toBe(true);
    expect(reg.username).toBe('alice');
    expect(reg.password).toBe('wonder land');
  });

  it('401 with WWW-Authenticate: Basic realm="..." without credentials', async () => {
    const r = await http(`${reg.url}/v2/`, { dispatcher: agent });
    expect(r.status).toBe(401);
    expect(header(r, 'www-authenticate')).toBe('Basic realm="hoist-test-registry"');
    const c = parseChallenge(header(r, 'www-authenticate')!);
    expect(c.scheme).toBe('Basic');
  });

  it('200 with the right credentials, 401 with a wrong password', async () => {
    const ok = await http(`${reg.url}/v2/`, { dispatcher: agent, headers: { authorization: basicAuth({ username: 'alice', password: 'wonder land' }) } });
    expect(ok.status).toBe(200);
    const bad = await http(`${reg.url}/v2/`, { dispatcher: agent, headers: { authorization: basicAuth({ username: 'alice', password: 'nope' }) } });
    expect(bad.status).toBe(401);
  });

  it('TLS is verified: without the CA the connection is refused', async () => {
    const plain = new Agent();
    try {
      await expect(http(`${reg.url}/v2/`, { dispatcher: plain })).rejects.toThrow(/certificate|self.signed|verify/i);
    } finally {
      await plain.close();
    }
  });

  it('the server certificate names IP 127.0.0.1 and DNS localhost (SANs), signed by the CA', async () => {
    const tls = await import('node:tls');
    const peer = await new Promise<X509Certificate>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: Number(reg.host.split(':')[1]), ca: reg.caCertPem!, servername: 'localhost' }, () => {
        const c = s.getPeerX509Certificate();
        s.end();
        if (c) resolve(c);
        else reject(new Error('no peer cert'));
      });
      s.on('error', reject);
    });
    expect(peer.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(peer.subjectAltName).toContain('DNS:localhost');
    expect(peer.checkIssued(new X509Certificate(reg.caCertPem!))).toBe(true);
  });

  it('pushTestImage pushes with basic auth; reads back with credentials only', async () => {
    const pushed = await pushTestImage(reg, 'secure/app', '1.0');
    const auth = basicAuth({ username: reg.username!, password: reg.password! });
    const m = await http(`${reg.url}/v2/secure/app/manifests/1.0`, { dispatcher: reg.dispatcher, headers: { authorization: auth, accept: MEDIA.ociManifest } });
    expect(m.status).toBe(200);
    expect(sha(m.body)).toBe(pushed.manifestDigest);
    const b = await http(`${reg.url}/v2/secure/app/blobs/${pushed.layers[0]!.digest}`, { dispatcher: reg.dispatcher, headers: { authorization: auth } });
    expect(sha(b.body)).toBe(pushed.layers[0]!.digest);
    const anon = await http(`${reg.url}/v2/secure/app/manifests/1.0`, { dispatcher: reg.dispatcher });
    expect(anon.status).toBe(401);
    expect(header(anon, 'www-authenticate')).toBe('Basic realm="hoist-test-registry"');
  });

  it('a default password is random and the registry can also run htpasswd without TLS', async () => {
    const r = await startRegistry({ auth: 'htpasswd', tls: false });
    try {
      expect(r.url.startsWith('http://')).toBe(true);
      expect(r.username).toBe('hoist-user');
      expect(r.password).toMatch(/^pw-[0-9a-f]{24}$/);
      const anon = await http(`${r.url}/v2/`);
      expect(anon.status).toBe(401);
      const ok = await http(`${r.url}/v2/`, { headers: { authorization: basicAuth({ username: r.username!, password: r.password! }) } });
      expect(ok.status).toBe(200);
    } finally {
      await r.stop();
    }
  });
});
