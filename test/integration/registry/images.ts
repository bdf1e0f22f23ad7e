/**
 * Images for the registry integration tests, made the way a build would:
 * layer tars written with tar-stream, gzipped with zlib, and assembled with
 * imageFromParts. Plus small stream helpers.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { blobLayer, imageFromParts, MediaType, type Digest, type Image, type Layer } from '../../../src/oci/index.js';

export function sha256(data: Buffer | string): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export async function tarOf(files: Record<string, Buffer | string>): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    pack.on('data', (c: unknown) => chunks.push(c as Buffer));
    pack.on('end', () => resolve(Buffer.concat(chunks)));
    pack.on('error', reject);
  });
  for (const [name, content] of Object.entries(files)) {
    const data = Buffer.from(content);
    await new Promise<void>((resolve, reject) =>
      pack.entry({ name, size: data.length, mode: 0o644, mtime: new Date(0) }, data, (err) => (err ? reject(err) : resolve())),
    );
  }
  pack.finalize();
  return done;
}

export interface MadeLayer {
  layer: Layer;
  gz: Buffer;
  tar: Buffer;
}

export async function makeLayer(files: Record<string, Buffer | string>): Promise<MadeLayer> {
  const t = await tarOf(files);
  const gz = gzipSync(t);
  const layer = blobLayer({ mediaType: MediaType.OciLayerGzip, digest: sha256(gz), size: gz.length }, sha256(t), async () =>
    Readable.from([gz]),
  );
  return { layer, gz, tar: t };
}

/** A two-layer linux/amd64 image; `bigLayerBytes` adds random (incompressible) data to the second layer. */
export async function makeImage(label: string, bigLayerBytes = 1024, family: 'oci' | 'docker' = 'oci'): Promise<{ img: Image; layers: MadeLayer[] }> {
  const layers = [
    await makeLayer({ 'etc/label': `${label}\n`, 'etc/os-release': 'ID=hoist-test\n' }),
    await makeLayer({ 'data/blob.bin': randomBytes(bigLayerBytes), 'data/label': label }),
  ];
  const diffIds = await Promise.all(layers.map((l) => l.layer.diffId()));
  const img = imageFromParts({
    config: {
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/usr/bin:/bin'], Cmd: ['/bin/sh'], Labels: { label } },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: [{ created_by: 'layer 1' }, { created_by: 'layer 2' }],
    },
    layers: layers.map((l) => l.layer),
    mediaTypes: family,
  });
  return { img, layers };
}

export async function readAll(stream: Readable | NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
