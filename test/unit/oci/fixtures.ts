/**
 * Test fixtures for src/oci: small layer tars made with tar-stream + zlib,
 * a store-backed two-layer image, and an independent tar reader (tar-stream
 * extract, whole members in memory; fine for the tiny archives tests make).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { afterEach } from 'vitest';
import { BlobStore } from '../../../src/oci/blob-store.js';
import type { Digest } from '../../../src/oci/digest.js';
import { imageFromParts, type Image } from '../../../src/oci/image.js';
import { storeLayer, type Layer } from '../../../src/oci/layer.js';
import { MediaType, type MediaTypeFamily } from '../../../src/oci/media-types.js';
import type { ConfigFile } from '../../../src/oci/types.js';

export function sha256(data: Buffer | string): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** A temp dir removed after the current test. */
export function useTempDirs(): () => Promise<string> {
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });
  return async () => {
    const d = await mkdtemp(join(tmpdir(), 'hoist-oci-test-'));
    dirs.push(d);
    return d;
  };
}

export async function collect(stream: NodeJS.ReadableStream | Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(chunks);
}

/** A layer tar with the given files (path -> content). */
export async function makeLayerTar(files: Record<string, string>): Promise<Buffer> {
  const pack = tar.pack();
  const done = collect(Readable.from(pack, { objectMode: false }));
  for (const [name, content] of Object.entries(files)) {
    await new Promise<void>((resolve, reject) => {
      pack.entry({ name, mode: 0o644, mtime: new Date(0) }, Buffer.from(content), (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  return done;
}

export interface TestLayer {
  tar: Buffer;
  gz: Buffer;
  diffId: Digest;
  digest: Digest;
}

export async function makeLayer(files: Record<string, string>): Promise<TestLayer> {
  const t = await makeLayerTar(files);
  const gz = gzipSync(t);
  return { tar: t, gz, diffId: sha256(t), digest: sha256(gz) };
}

export function testConfig(diffIds: Digest[], extra: Partial<ConfigFile> = {}): ConfigFile {
  return {
    created: '2024-01-01T00:00:00Z',
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/usr/bin:/bin'], Cmd: ['/bin/sh'], Labels: { b: '2', a: '1' } },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: diffIds.map((_, i) => ({ created: '2024-01-01T00:00:00Z', created_by: `step ${i}` })),
    ...extra,
  };
}

export interface TestImage {
  image: Image;
  layers: TestLayer[];
  store: BlobStore;
}

/** A two-layer gzip image whose blobs are in a fresh store under `dir`. */
export async function makeStoreImage(
  dir: string,
  options: { family?: MediaTypeFamily; files?: Record<string, string>[] } = {},
): Promise<TestImage> {
  const store = new BlobStore(join(dir, 'store'));
  const files = options.files ?? [{ 'etc/hello.txt': 'hello\n' }, { 'usr/bin/tool': '#!/bin/sh\necho tool\n', 'etc/motd': 'hi' }];
  const layers = await Promise.all(files.map(makeLayer));
  const stored: Layer[] = [];
  for (const l of layers) {
    await store.putBytes(l.gz, { digest: l.digest });
    stored.push(storeLayer(store, { mediaType: MediaType.OciLayerGzip, digest: l.digest, size: l.gz.length }, l.diffId));
  }
  const image = imageFromParts({
    config: testConfig(layers.map((l) => l.diffId)),
    layers: stored,
    mediaTypes: options.family ?? 'oci',
  });
  await store.putBytes(await image.rawConfigFile());
  return { image, layers, store };
}

export interface TarFileEntry {
  type: string;
  linkname?: string;
  data: Buffer;
}

/** Independent reader: every member of a tar file, content in memory. */
export async function readTar(file: string): Promise<Map<string, TarFileEntry>> {
  const out = new Map<string, TarFileEntry>();
  const extract = tar.extract();
  const src = createReadStream(file);
  src.pipe(extract as unknown as NodeJS.WritableStream);
  for await (const entry of extract) {
    const data = await collect(entry as unknown as Readable);
    const e: TarFileEntry = { type: entry.header.type, data };
    if (entry.header.linkname) e.linkname = entry.header.linkname;
    out.set(entry.header.name.replace(/^\.\//, '').replace(/\/$/, ''), e);
  }
  return out;
}

/** The member list of a layer tar (names -> content). */
export async function tarContents(data: Buffer): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const extract = tar.extract();
  Readable.from([data]).pipe(extract as unknown as NodeJS.WritableStream);
  for await (const entry of extract) {
    out[entry.header.name] = (await collect(entry as unknown as Readable)).toString('utf8');
  }
  return out;
}
