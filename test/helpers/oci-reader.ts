/**
 * A deliberately small, independent reader of what hoist writes: an OCI
 * archive or layout, or a docker-archive. It shares no code with src/ (only
 * tar-stream and node:zlib), so a bug in the production readers cannot hide
 * a bug in the writers.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import tar from 'tar-stream';

export interface TarMember {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  linkname: string | null;
  size: number;
  content: Buffer;
  pax: Record<string, string>;
  /** Device numbers of a character or block device (0 for other types). */
  devmajor: number;
  devminor: number;
}

export async function readTar(data: Buffer | Readable): Promise<TarMember[]> {
  const extract = tar.extract();
  const members: TarMember[] = [];
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        members.push({
          name: header.name,
          type: header.type ?? 'file',
          mode: header.mode ?? 0,
          uid: header.uid ?? 0,
          gid: header.gid ?? 0,
          mtime: Math.floor((header.mtime?.getTime() ?? 0) / 1000),
          linkname: header.linkname ?? null,
          size: header.size ?? 0,
          content: Buffer.concat(chunks),
          pax: (header.pax ?? {}) as Record<string, string>,
          devmajor: header.devmajor ?? 0,
          devminor: header.devminor ?? 0,
        });
        next();
      });
      stream.on('error', reject);
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  (Buffer.isBuffer(data) ? Readable.from([data]) : data).pipe(extract);
  await done;
  return members;
}

export function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export interface ReadImage {
  index: any;
  manifestDigest: string;
  manifest: any;
  config: any;
  /** Per layer: the uncompressed tar's members. */
  layers: TarMember[][];
}

type BlobGetter = (digest: string) => Promise<Buffer>;

async function readFromBlobs(index: any, blob: BlobGetter, refName?: string): Promise<ReadImage> {
  const entries: any[] = index.manifests;
  const entry = refName ? entries.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === refName) : entries[0];
  if (!entry) throw new Error(`no manifest ${refName ?? ''} in index`);
  const rawManifest = await blob(entry.digest);
  if (sha256(rawManifest) !== entry.digest) throw new Error('manifest digest mismatch');
  const manifest = JSON.parse(rawManifest.toString('utf8'));
  const rawConfig = await blob(manifest.config.digest);
  if (sha256(rawConfig) !== manifest.config.digest || rawConfig.length !== manifest.config.size) throw new Error('config digest mismatch');
  const config = JSON.parse(rawConfig.toString('utf8'));
  const layers: TarMember[][] = [];
  for (const [i, desc] of (manifest.layers as any[]).entries()) {
    const compressed = await blob(desc.digest);
    if (sha256(compressed) !== desc.digest || compressed.length !== desc.size) throw new Error(`layer ${i} digest mismatch`);
    const plain = desc.mediaType.endsWith('gzip') ? gunzipSync(compressed) : compressed;
    if (sha256(plain) !== config.rootfs.diff_ids[i]) throw new Error(`layer ${i} diffID mismatch`);
    layers.push(await readTar(plain));
  }
  return { index, manifestDigest: entry.digest, manifest, config, layers };
}

export async function readOciLayout(dir: string, refName?: string): Promise<ReadImage> {
  const layoutFile = JSON.parse(await readFile(path.join(dir, 'oci-layout'), 'utf8'));
  if (layoutFile.imageLayoutVersion !== '1.0.0') throw new Error('bad oci-layout file');
  const index = JSON.parse(await readFile(path.join(dir, 'index.json'), 'utf8'));
  const blob = (d: string) => readFile(path.join(dir, 'blobs', ...d.split(':')));
  return readFromBlobs(index, blob, refName);
}

export async function readOciArchive(file: string, refName?: string): Promise<ReadImage> {
  const members = await readTar(createReadStream(file));
  const byName = new Map(members.map((m) => [m.name.replace(/^\.\//, ''), m]));
  const get = (name: string): Buffer => {
    const m = byName.get(name);
    if (!m) throw new Error(`${name} missing from archive`);
    return m.content;
  };
  const layoutFile = JSON.parse(get('oci-layout').toString('utf8'));
  if (layoutFile.imageLayoutVersion !== '1.0.0') throw new Error('bad oci-layout file');
  const index = JSON.parse(get('index.json').toString('utf8'));
  return readFromBlobs(index, async (d) => get(`blobs/${d.replace(':', '/')}`), refName);
}

export interface ReadDockerArchive {
  manifest: Array<{ Config: string; RepoTags: string[] | null; Layers: string[] }>;
  config: any;
  layers: TarMember[][];
}

export async function readDockerArchive(file: string): Promise<ReadDockerArchive> {
  const members = await readTar(createReadStream(file));
  const byName = new Map(members.map((m) => [m.name, m]));
  const get = (name: string): Buffer => {
    const m = byName.get(name);
    if (!m) throw new Error(`${name} missing from docker archive`);
    return m.content;
  };
  const manifest = JSON.parse(get('manifest.json').toString('utf8'));
  const first = manifest[0];
  const config = JSON.parse(get(first.Config).toString('utf8'));
  const layers: TarMember[][] = [];
  for (const [i, name] of (first.Layers as string[]).entries()) {
    const data = get(name);
    if (sha256(data) !== config.rootfs.diff_ids[i]) throw new Error(`docker layer ${i} diffID mismatch`);
    layers.push(await readTar(data));
  }
  return { manifest, config, layers };
}

/** Apply layers in order (whiteouts and opaque dirs included) to a path -> member map. */
export function flatten(layers: TarMember[][]): Map<string, TarMember> {
  const fs = new Map<string, TarMember>();
  for (const layer of layers) {
    for (const m of layer) {
      const name = m.name.replace(/^\.\//, '').replace(/\/$/, '');
      const base = path.posix.basename(name);
      const dir = path.posix.dirname(name);
      if (base === '.wh..wh..opq') {
        for (const k of [...fs.keys()]) if (k.startsWith(`${dir}/`)) fs.delete(k);
        continue;
      }
      if (base.startsWith('.wh.')) {
        const gone = path.posix.join(dir, base.slice(4));
        for (const k of [...fs.keys()]) if (k === gone || k.startsWith(`${gone}/`)) fs.delete(k);
        continue;
      }
      fs.set(name, m);
    }
  }
  return fs;
}
