/**
 * Test certificates made with node-forge: a CA, server certificates it signs
 * for loopback names, and a self-signed token-signing certificate. Keys are
 * generated and certificates signed by node's crypto (forge's pure-JS RSA
 * takes ~0.5 s a certificate); forge builds the X.509 structures.
 * Pass keys from rsaKeyPem() to generate several in parallel.
 */
import { generateKeyPair, randomBytes, sign } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import forge from 'node-forge';

export interface KeyAndCert {
  certPem: string;
  keyPem: string;
}

/** A fresh RSA-2048 private key, PKCS#1 PEM (generated off the main thread). */
export function rsaKeyPem(): Promise<string> {
  return new Promise((resolve, reject) => {
    generateKeyPair(
      'rsa',
      { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } },
      (err, _pub, priv) => (err ? reject(err) : resolve(priv)),
    );
  });
}

/**
 * `n` distinct RSA keys for test certificates, cached in
 * TMPDIR/hoist-registry-test-keys (0700) so that later runs and other test
 * processes skip generation (0.2-2 s a key on a busy machine). Certificates
 * made from them are always fresh. Test-only keys: never use them elsewhere.
 */
export async function cachedRsaKeys(n: number): Promise<string[]> {
  const dir = path.join(os.tmpdir(), 'hoist-registry-test-keys');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const file = path.join(dir, `key-${i}.pem`);
      try {
        const pem = await readFile(file, 'utf8');
        if (pem.includes('-----BEGIN RSA PRIVATE KEY-----') && pem.includes('-----END RSA PRIVATE KEY-----')) return pem;
      } catch {
        // not cached yet
      }
      const pem = await rsaKeyPem();
      const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
      await writeFile(tmp, pem, { mode: 0o600 });
      await rename(tmp, file); // atomic: a racing process's key is as good as ours
      return pem;
    }),
  );
}

function keyPair(privatePem: string): { privatePem: string; forgePublic: forge.pki.rsa.PublicKey } {
  const p = forge.pki.privateKeyFromPem(privatePem);
  return { privatePem, forgePublic: forge.pki.setRsaPublicKey(p.n, p.e) };
}

/** Sign like forge's cert.sign(key, sha256), with node's crypto doing the RSA work. */
function signCert(cert: forge.pki.Certificate, keyPem: string): void {
  cert.md = forge.md.sha256.create();
  cert.signatureOid = cert.siginfo.algorithmOid = forge.pki.oids.sha256WithRSAEncryption!;
  // getTBSCertificate exists in forge but is missing from its typings.
  const pki = forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 };
  cert.tbsCertificate = pki.getTBSCertificate(cert);
  const tbs = Buffer.from(forge.asn1.toDer(cert.tbsCertificate).getBytes(), 'binary');
  cert.signature = sign('sha256', tbs, keyPem).toString('binary');
}

function serial(): string {
  // Positive (high bit clear), 16 bytes.
  const b = randomBytes(16);
  b[0] = (b[0] ?? 0) & 0x7f;
  return b.toString('hex');
}

function validity(cert: forge.pki.Certificate): void {
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 60 * 60 * 1000);
  cert.validity.notAfter = new Date(now + 7 * 24 * 60 * 60 * 1000);
}

export interface TestCa extends KeyAndCert {
  /** Issue a server certificate for these DNS names and IP addresses (SANs). */
  issueServerCert(opts: { dnsNames?: string[]; ips?: string[]; commonName?: string; keyPem?: string }): Promise<KeyAndCert>;
}

/** A fresh CA (`CN=hoist test CA`), able to issue server certificates. */
export async function makeTestCa(opts: { name?: string; keyPem?: string } = {}): Promise<TestCa> {
  const name = opts.name ?? `hoist test CA ${randomBytes(4).toString('hex')}`;
  const keys = keyPair(opts.keyPem ?? (await rsaKeyPem()));
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.forgePublic;
  cert.serialNumber = serial();
  validity(cert);
  const attrs = [{ name: 'commonName', value: name }, { name: 'organizationName', value: 'hoist tests' }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  signCert(cert, keys.privatePem);
  const caCert = cert;

  return {
    certPem: forge.pki.certificateToPem(caCert),
    keyPem: keys.privatePem,
    async issueServerCert({ dnsNames = ['localhost'], ips = ['127.0.0.1'], commonName, keyPem }) {
      const k = keyPair(keyPem ?? (await rsaKeyPem()));
      const c = forge.pki.createCertificate();
      c.publicKey = k.forgePublic;
      c.serialNumber = serial();
      validity(c);
      c.setSubject([{ name: 'commonName', value: commonName ?? dnsNames[0] ?? ips[0] ?? 'localhost' }]);
      c.setIssuer(caCert.subject.attributes);
      c.setExtensions([
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: [...dnsNames.map((value) => ({ type: 2, value })), ...ips.map((ip) => ({ type: 7, ip }))],
        },
        { name: 'subjectKeyIdentifier' },
        { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
      ]);
      signCert(c, keys.privatePem);
      return { certPem: forge.pki.certificateToPem(c), keyPem: k.privatePem };
    },
  };
}

export interface SignerCert extends KeyAndCert {
  /** The certificate as DER, base64 (standard alphabet): the `x5c` JWT header entry. */
  certDerBase64: string;
}

/** A self-signed certificate for signing registry tokens; it is its own root bundle. */
export async function makeTokenSigner(opts: { name?: string; keyPem?: string } = {}): Promise<SignerCert> {
  const name = opts.name ?? 'hoist test token signer';
  const keys = keyPair(opts.keyPem ?? (await rsaKeyPem()));
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.forgePublic;
  cert.serialNumber = serial();
  validity(cert);
  const attrs = [{ name: 'commonName', value: name }];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true },
    { name: 'keyUsage', digitalSignature: true, keyCertSign: true },
  ]);
  signCert(cert, keys.privatePem);
  const der = forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes();
  return {
    certPem: forge.pki.certificateToPem(cert),
    keyPem: keys.privatePem,
    certDerBase64: Buffer.from(der, 'binary').toString('base64'),
  };
}
