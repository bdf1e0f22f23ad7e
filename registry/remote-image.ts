/**
 * A lazy Image backed by a registry: the manifest bytes are in hand; the
 * config and layers are fetched when asked. With a BlobStore, every blob
 * goes through it: downloaded (verified) into the store once, then streamed
 * from there, so a second read costs no network. Concurrent reads of one
 * blob share a single download.
 */
import type { Readable } from 'node:stream';
import { blobImage, type BlobStore, type Descriptor, type Digest, type Image, type Reference } from '../src/oci/index.js';
import type { RegistryClient } from './client.js';

/** Opens blobs of one repository, through a store when there is one. */
export class RemoteBlobs {
  private readonly inflight = new Map<Digest, Promise<unknown>>();

  constructor(
    private readonly client: RegistryClient,
    readonly repo: Reference,
    readonly store: BlobStore | undefined,
    private readonly signal?: AbortSignal,
  ) {}

  /** Make sure the blob is in the store (no-op without a store). */
  async ensure(desc: Descriptor): Promise<void> {
    const store = this.store;
    if (store === undefined || (await store.has(desc.digest))) return;
    let p = this.inflight.get(desc.digest);
    if (p === undefined) {
      p = this.client.pullBlob(this.repo, desc, store, this.signal ? { signal: this.signal } : {});
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
    if (this.store === undefined) return this.client.fetchBlob(this.repo, desc, this.signal ? { signal: this.signal } : {});
    await this.ensure(desc);
    return this.store.open(desc.digest, desc.size);
  }
}

/** An Image from manifest bytes fetched from `blobs.repo`. */
export function remoteImage(raw: Buffer, mediaType: string, blobs: RemoteBlobs): Image {
  return blobImage(raw, (desc) => blobs.open(desc), mediaType);
}
