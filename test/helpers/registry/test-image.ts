/**
 * Deterministic test images, made independently of hoist's code: real
 * gzip-compressed tar layers (tar-stream + zlib) with seeded pseudo-random
 * content, an image config, a manifest per platform and, for several
 * platforms, an index. OCI or Docker schema 2 media types.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

export const MEDIA = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export interface TestImageOptions {
  /** Layers per image (default 2). */
  layers?: number;
  /** Bytes of pseudo-random data in each layer's data file (default 4096); the gzip blob is slightly larger. */
  layerSize?: number;
  /** e.g. ['linux/amd64', 'linux/arm64/v8']: one image per platform plus an index. Without it: one linux/amd64 image, no index. */
  platforms?: string[];
  /** Docker schema 2 media types instead of OCI. */
  dockerMediaTypes?: boolean;
  /** Extra seed text; the content is otherwise determined by repo, tag and options. */
  seed?: string;
}

export interface TestLayer {
  digest: string;
  size: number;
  diffId: string;
  mediaType: string;
}

export interface TestManifest {
  platform: { os: string; architecture: string; variant?: string };
  digest: string;
  mediaType: string;
  bytes: Buffer;
  configDigest: string;
  configBytes: Buffer;
  layers: TestLayer[];
}

export interface TestImage {
  /** Every blob (layers and configs) by digest. */
  blobs: Map<string, Buffer>;
  /** One per platform, in the order given. */
  manifests: TestManifest[];
  /** Present when platforms were given. */
  index?: { digest: string; mediaType: string; bytes: Buffer };
}

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** `n` pseudo-random bytes determined by `seed` (AES-256-CTR keystream). */
export function seededBytes(seed: string, n: number): Buffer {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.alloc(n)), cipher.final()]);
}

export function parsePlatform(p: string): { os: string; architecture: string; variant?: string } {
  const [os, architecture, variant] = p.split('/');
  if (!os || !architecture) throw new Error(`bad platform ${p}: want os/arch[/variant]`);
  return variant ? { os, architecture, variant } : { os, architecture };
}

const MTIME = new Date('2024-01-01T00:00:00Z');

async function makeTar(entries: Array<{ name: string; type: 'directory' | 'file'; data?: Buffer; mode: number }>): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    pack.on('data', (c: unknown) => {
      chunks.push(c as Buffer);
    });
    pack.on('end', () => resolve(Buffer.concat(chunks)));
    pack.on('error', reject);
  });
  for (const e of entries) {
    const header = { name: e.name, type: e.type, mode: e.mode, mtime: MTIME, uid: 0, gid: 0, uname: 'root', gname: 'root' };
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null): void => (err ? reject(err) : resolve());
      if (e.type === 'file') {
        const data = e.data ?? Buffer.alloc(0);
        pack.entry({ ...header, size: data.length }, data, cb);
      } else {
        pack.entry(header, cb);
      }
    });
  }
  pack.finalize();
  return done;
}

/** Build the image in memory; nothing is written anywhere. */
export async function buildTestImage(repo: string, tag: string, opts: TestImageOptions = {}): Promise<TestImage> {
  const nLayers = opts.layers ?? 2;
  const layerSize = opts.layerSize ?? 4096;
  const platforms = opts.platforms ?? ['linux/amd64'];
  if (platforms.length === 0) throw new Error('platforms: give at least one');
  const docker = opts.dockerMediaTypes ?? false;
  const manifestType = docker ? MEDIA.dockerManifest : MEDIA.ociManifest;
  const configType = docker ? MEDIA.dockerConfig : MEDIA.ociConfig;
  const layerType = docker ? MEDIA.dockerLayerGzip : MEDIA.ociLayerGzip;

  const blobs = new Map<string, Buffer>();
  const manifests: TestManifest[] = [];
  for (const p of platforms) {
    const platform = parsePlatform(p);
    const layers: TestLayer[] = [];
    for (let i = 0; i < nLayers; i++) {
      const seed = `${opts.seed ?? ''}|${repo}|${tag}|${p}|layer${i}`;
      const tarBytes = await makeTar([
        { name: `layer${i}/`, type: 'directory', mode: 0o755 },
        { name: `layer${i}/info.txt`, type: 'file', mode: 0o644, data: Buffer.from(`test layer ${i} of ${repo}:${tag} for ${p}\n`) },
        { name: `layer${i}/data.bin`, type: 'file', mode: 0o644, data: seededBytes(seed, layerSize) },
      ]);
      const gz = gzipSync(tarBytes); // node writes mtime 0 in the gzip header: deterministic
      const digest = sha256(gz);
      blobs.set(digest, gz);
      layers.push({ digest, size: gz.length, diffId: sha256(tarBytes), mediaType: layerType });
    }
    const config = {
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      created: MTIME.toISOString(),
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/sh'], Labels: { 'org.hoist.test': `${repo}:${tag}` } },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map((_, i) => ({ created: MTIME.toISOString(), created_by: `test layer ${i}` })),
    };
    const configBytes = Buffer.from(JSON.stringify(config));
    const configDigest = sha256(configBytes);
    blobs.set(configDigest, configBytes);
    const manifest = {
      schemaVersion: 2,
      mediaType: manifestType,
      config: { mediaType: configType, digest: configDigest, size: configBytes.length },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    };
    const bytes = Buffer.from(JSON.stringify(manifest, null, 2));
    manifests.push({ platform, digest: sha256(bytes), mediaType: manifestType, bytes, configDigest, configBytes, layers });
  }

  const image: TestImage = { blobs, manifests };
  if (opts.platforms !== undefined) {
    const indexType = docker ? MEDIA.dockerManifestList : MEDIA.ociIndex;
    const index = {
      schemaVersion: 2,
      mediaType: indexType,
      manifests: manifests.map((m) => ({ mediaType: m.mediaType, digest: m.digest, size: m.bytes.length, platform: m.platform })),
    };
    const bytes = Buffer.from(JSON.stringify(index, null, 2));
    image.index = { digest: sha256(bytes), mediaType: indexType, bytes };
  }
  return image;
}

function blobPath(layoutDir: string, digest: string): string {
  const [alg, hex] = digest.split(':');
  return path.join(layoutDir, 'blobs', alg!, hex!);
}

/**
 * Write a test image as an OCI image layout (e.g. a source for
 * `skopeo copy oci:DIR:TAG docker://...`). The layout's index.json gets one
 * entry annotated `org.opencontainers.image.ref.name: TAG`. Creates or
 * overwrites DIR/index.json (other tags are dropped).
 */
export async function writeTestOciLayout(layoutDir: string, image: TestImage, tag: string): Promise<void> {
  await mkdir(path.join(layoutDir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(path.join(layoutDir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  for (const [digest, data] of image.blobs) await writeFile(blobPath(layoutDir, digest), data);
  for (const m of image.manifests) await writeFile(blobPath(layoutDir, m.digest), m.bytes);
  const top = image.index ?? image.manifests[0]!;
  if (image.index) await writeFile(blobPath(layoutDir, image.index.digest), image.index.bytes);
  const index = {
    schemaVersion: 2,
    mediaType: MEDIA.ociIndex,
    manifests: [
      { mediaType: top.mediaType, digest: top.digest, size: top.bytes.length, annotations: { 'org.opencontainers.image.ref.name': tag } },
    ],
  };
  await writeFile(path.join(layoutDir, 'index.json'), JSON.stringify(index));
}
