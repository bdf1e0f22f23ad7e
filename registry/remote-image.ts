/**
 * A lazy Image backed by a registry: the manifest bytes are in hand; the
 * config and layers are fetched when asked. With a BlobStore, every blob
 * goes through it: downloaded (verified) into the store once, then streamed
 * from there, so a second read costs no network. Concurrent reads of one
 * blob share a single download.
 */
import type { Readable } from 'node:stream';
import { blobImage, type BlobStore, type Descriptor, type Digest, type Image, type Reference } from '../src/oci/index.js';
import type { TransferReporter } from '../src/oci/progress.js';
import type { BlobTransferOptions, RegistryClient } from './client.js';

/** Opens blobs of one repository, through a store when there is one. */
export class RemoteBlobs {
  private readonly inflight = new Map<Digest, Promise<unknown>>();

  constructor(
    private readonly client: RegistryClient,
    readonly repo: Reference,
    readonly store: BlobStore | undefined,
    private readonly signal?: AbortSignal,
    private readonly onProgress?: TransferReporter,
  ) {}

  private transferOptions(desc: Descriptor): BlobTransferOptions {
    const report = this.onProgress;
    return {
      ...(this.signal ? { signal: this.signal } : {}),
      ...(report
        ? { onProgress: (n: number) => report({ action: 'download', id: desc.digest, current: n, total: desc.size, status: n === desc.size ? 'done' : 'running' }) }
        : {}),
    };
  }

  /** Make sure the blob is in the store (no-op without a store). */
  async ensure(desc: Descriptor): Promise<void> {
    const store = this.store;
    if (store === undefined || (await store.has(desc.digest))) return;
    let p = this.inflight.get(desc.digest);
    if (p === undefined) {
      p = this.client.pullBlob(this.repo, desc, store, this.transferOptions(desc));
      this.inflight.set(desc.digest, p);
      void p.then(
        () => this.inflight.delete(desc.digest),
        () => this.inflight.delete(desc.digest),
      );
    }
    await p;
  }

  /** A verified stream of the blob. */
  async open(desc: Descriptor): Promise<Readable> {
    if (this.store === undefined) return this.client.fetchBlob(this.repo, desc, this.transferOptions(desc));
    await this.ensure(desc);
    return this.store.open(desc.digest, desc.size);
  }
}

/** An Image from manifest bytes fetched from `blobs.repo`. */
export function remoteImage(raw: Buffer, mediaType: string, blobs: RemoteBlobs): Image {
  return blobImage(raw, (desc) => blobs.open(desc), mediaType);
}
