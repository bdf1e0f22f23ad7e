/** Certificates for TLS unit tests, made with node-forge, and an HTTPS registry that serves one. */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';

export interface Pem {
  certPem: string;
  keyPem: string;
}

/** A self-signed certificate for 127.0.0.1 and localhost (also usable as its own CA). */
export function makeSelfSigned(): Pem {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const key = forge.pki.privateKeyFromPem(privateKey);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 3_600_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  const attrs = [{ name: 'commonName', value: 'localhost' }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true },
    { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] },
  ]);
  cert.sign(key, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: privateKey };
}

export interface TlsRegistry {
  /** A scratch directory, removed by close(); `ca.pem` in it is the server's certificate. */
  dir: string;
  pem: Pem;
  /** `127.0.0.1:PORT` */
  host: string;
  close(): Promise<void>;
}

/**
 * A registry over HTTPS with a self-signed certificate: the ping answers `{}`
 * and every other request lists the tags of `app` as `["secure"]`.
 */
export async function startTlsRegistry(dirPrefix: string): Promise<TlsRegistry> {
  const dir = await mkdtemp(join(tmpdir(), dirPrefix));
  const pem = makeSelfSigned();
  await writeFile(join(dir, 'ca.pem'), pem.certPem);
  const server = createServer({ cert: pem.certPem, key: pem.keyPem }, (req, res) => {
    if (req.url === '/v2/') return void res.writeHead(200).end('{}');
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"name":"app","tags":["secure"]}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    dir,
    pem,
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
