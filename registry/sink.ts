/**
 * RegistrySink: writes an image to one or more references. Per repository,
 * the config and every layer are pushed concurrently (bounded by the
 * client's concurrency, each digest once), then the manifest is PUT once
 * per tag with its media type as Content-Type. Repositories are written one
 * after another so that the second and later ones on the same registry get
 * cross-repository mounts instead of uploads. An index is written whole:
 * every blob, then every manifest it lists (by digest), then the index.
 */
import { Readable } from 'node:stream';
import {
  indexContents,
  isDistributable,
  type Descriptor,
  type Digest,
  type GrowingBlob,
  type Image,
  type ImageIndex,
  type ImageSink,
  type IndexSink,
  type Reference,
} from '../src/oci/index.js';
import { largestFirst, mapLimit } from '../src/oci/parallel.js';
import type { TransferReporter } from '../src/oci/progress.js';
import type { BlobPushResult } from './blob-upload.js';
import type { RegistryClient } from './client.js';
import { streamsLayersTo } from './endpoint.js';
import { RegistryError } from './errors.js';

export interface RegistrySinkOptions {
  signal?: AbortSignal;
  /** Told how blob uploads progress. */
  onProgress?: TransferReporter | undefined;
}

interface Blob {
  desc: Descriptor;
  open: () => Promise<Readable>;
}

export class RegistrySink implements ImageSink, IndexSink {
  /** Blobs sent ahead of `write` (`sendAhead`), by repository and digest: how each went, or undefined if it failed. */
  private readonly early = new Map<string, Promise<BlobPushResult | undefined>>();
  /**
   * Per repository, blobs sent while they are written (`sendGrowing`) whose
   * digest is not known yet: each settles when it is (or its write failed),
   * and is in `early` from then on.
   */
  private readonly describing = new Map<string, Set<Promise<void>>>();

  constructor(
    private readonly client: RegistryClient,
    private readonly options: RegistrySinkOptions = {},
  ) {}

  /**
   * Start uploading a layer of the image to the first repository of `refs`
   * while the build goes on; `write` waits for it instead of sending it
   * again, and sends it itself if this failed.
   */
  sendAhead(refs: readonly Reference[], desc: Descriptor, open: () => Promise<Readable>, signal?: AbortSignal): void {
    const repo = refs[0]?.repository();
    if (repo === undefined || !isDistributable(desc.mediaType)) return;
    const key = `${repo.string()} ${desc.digest}`;
    if (this.early.has(key)) return;
    const options = this.withSignal(signal);
    const report = this.options.onProgress;
    // Bytes on the way are shown as they go; how it ended is reported by `write`, in the push.
    const onProgress = report === undefined ? undefined : (current: number): void => report({ action: 'upload', id: desc.digest, current, total: desc.size, status: 'running' });
    this.early.set(key, this.client.pushBlob(repo, desc, open, { ...options, onProgress }).catch(() => undefined));
  }

  /** Whether layers for `refs` go while they are compressed (sendGrowing): to a registry on another machine (streamsLayersTo). */
  streamsTo(refs: readonly Reference[]): boolean {
    const first = refs[0];
    return first !== undefined && streamsLayersTo(first.domain);
  }

  /**
   * Start uploading a layer of the image to the first repository of `refs`
   * while it is still being written (compressed); `write` waits for it, and
   * sends the stored blob itself if this failed.
   */
  sendGrowing(refs: readonly Reference[], blob: GrowingBlob, signal?: AbortSignal): void {
    const repo = refs[0]?.repository();
    if (repo === undefined) {
      blob.discard();
      return;
    }
    const options = this.withSignal(signal);
    const report = this.options.onProgress;
    // Its bytes on the way are shown once it has a digest to be shown by (the step shows its compression until then).
    let known: Descriptor | undefined;
    let upload: Promise<BlobPushResult | undefined> | undefined;
    const onProgress =
      report === undefined
        ? undefined
        : (current: number): void => {
            if (known === undefined) return;
            // Only the upload the push waits for shows under the digest (another layer with the same bytes may go too).
            const registered = this.early.get(`${repo.string()} ${known.digest}`);
            if (registered !== undefined && registered !== upload) return;
            report({ action: 'upload', id: known.digest, current, total: known.size, status: 'running' });
          };
    upload = this.client.pushGrowingBlob(repo, blob, { ...options, onProgress }).catch(() => undefined);
    // Known by digest once the blob is stored; until then `write` waits for it before sending a blob itself.
    const described = blob.descriptor.then(
      (desc) => {
        known = desc;
        const key = `${repo.string()} ${desc.digest}`;
        if (!this.early.has(key)) this.early.set(key, upload);
      },
      () => undefined,
    );
    const pending = this.describing.get(repo.string()) ?? new Set<Promise<void>>();
    this.describing.set(repo.string(), pending);
    pending.add(described);
    void described.then(() => pending.delete(described));
  }

  /** The sink's signal and the caller's, either of which stops an upload sent ahead. */
  private withSignal(signal: AbortSignal | undefined): { signal?: AbortSignal } {
    const signals = [this.options.signal, signal].filter((s): s is AbortSignal => s !== undefined);
    return signals.length === 0 ? {} : { signal: signals.length === 1 ? (signals[0] as AbortSignal) : AbortSignal.any(signals) };
  }

  async write(img: Image, refs: readonly Reference[]): Promise<Digest> {
    const blobs = await this.blobsOf(img);
    return this.writeTo(refs, { raw: await img.rawManifest(), mediaType: await img.mediaType(), digest: await img.digest() }, blobs, []);
  }

  async writeIndex(idx: ImageIndex, refs: readonly Reference[]): Promise<Digest> {
    const where = refs.map((r) => r.string()).join(', ');
    const { blobs, manifests } = await indexContents(idx, where);
    return this.writeTo(
      refs,
      { raw: await idx.rawManifest(), mediaType: await idx.mediaType(), digest: await idx.digest() },
      blobs.map((desc) => ({ desc, open: () => idx.blob(desc) })),
      manifests,
    );
  }

  /** Per repository: the blobs, the listed manifests by digest (children first), then `top` under each ref. */
  private async writeTo(
    refs: readonly Reference[],
    top: { raw: Buffer; mediaType: string; digest: Digest },
    blobs: readonly Blob[],
    listed: ReadonlyArray<{ desc: Descriptor; raw: Buffer }>,
  ): Promise<Digest> {
    if (refs.length === 0) throw new RegistryError('REGISTRY_PROTOCOL', 'push: no reference to write the image to');
    const signal = this.options.signal ? { signal: this.options.signal } : {};
    const byRepo = new Map<string, Reference[]>();
    for (const ref of refs) {
      const key = ref.repository().string();
      byRepo.set(key, [...(byRepo.get(key) ?? []), ref]);
    }
    let digest: Digest | undefined;
    for (const group of byRepo.values()) {
      const repo = (group[0] as Reference).repository();
      await mapLimit(
        largestFirst([...blobs], (b) => b.desc.size),
        this.client.concurrency,
        (b) => this.pushBlob(repo, b, signal),
      );
      for (const m of listed) await this.client.putManifest(repo.withDigest(m.desc.digest), m.raw, m.desc.mediaType, signal);
      for (const ref of group) {
        const target = ref.tag === undefined && ref.digest === undefined ? ref.withDigest(top.digest) : ref;
        digest = await this.client.putManifest(target, top.raw, top.mediaType, signal);
      }
    }
    return digest as Digest;
  }

  private async pushBlob(repo: Reference, blob: Blob, signal: { signal?: AbortSignal }): Promise<void> {
    const report = this.options.onProgress;
    // A blob still being written may be this one: it is sent once, by its stream.
    await Promise.all(this.describing.get(repo.string()) ?? []);
    const sent = await this.early.get(`${repo.string()} ${blob.desc.digest}`);
    if (sent !== undefined) {
      report?.({ action: 'upload', id: blob.desc.digest, current: blob.desc.size, total: blob.desc.size, status: sent === 'uploaded' ? 'done' : sent });
      return;
    }
    if (report === undefined) {
      await this.client.pushBlob(repo, blob.desc, blob.open, signal);
      return;
    }
    const { digest: id, size: total } = blob.desc;
    const onProgress = (current: number): void => report({ action: 'upload', id, current, total, status: 'running' });
    const result = await this.client.pushBlob(repo, blob.desc, blob.open, { ...signal, onProgress });
    report({ action: 'upload', id, current: total, total, status: result === 'uploaded' ? 'done' : result });
  }

  /** Config and distributable layers, each digest once. */
  private async blobsOf(img: Image): Promise<Blob[]> {
    const manifest = await img.manifest();
    const layers = await img.layers();
    const rawConfig = await img.rawConfigFile();
    const out = new Map<Digest, Blob>();
    out.set(manifest.config.digest, { desc: manifest.config, open: async () => Readable.from([rawConfig]) });
    manifest.layers.forEach((desc, i) => {
      const layer = layers[i];
      if (layer === undefined || !isDistributable(desc.mediaType) || out.has(desc.digest)) return;
      out.set(desc.digest, { desc, open: () => layer.compressed() });
    });
    return [...out.values()];
  }
}
