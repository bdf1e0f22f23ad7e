import { close, openSync, read } from 'node:fs';
import { promisify } from 'node:util';
import { followWith, WriteProgress } from '../../../snapshot/rootfs/write-progress.js';
import type { BlobWriteWatch, Descriptor, GrowingBlob } from '../../oci/index.js';

const readAt = promisify(read);
const closeFd = promisify(close);

/**
 * A blob being put into the store, readable while it is written: `watch`
 * goes to BlobStore.put, `blob` to whoever sends it on (a registry upload
 * while the layer is compressed). The store's temp file is opened the
 * moment it exists, so the reader keeps it across the rename into place,
 * or its removal when the write fails.
 */
export class FollowedBlobWrite {
  readonly watch: BlobWriteWatch;
  readonly blob: GrowingBlob;
  private readonly progress = new WriteProgress();
  private file = '';
  private fd: number | undefined;
  /** chunks() was called: the caller reads the blob or discards it, and the file is theirs. */
  private claimed = false;
  private done = false;
  /** Settles when the claimer is done: its reader ended, or it discarded the blob. */
  private claimEnded: () => void = () => undefined;
  private readonly claimOver = new Promise<void>((resolve) => {
    this.claimEnded = resolve;
  });
  /** Wakes a reader waiting for the file to be opened. */
  private opened: () => void = () => undefined;
  private readonly openedOnce = new Promise<void>((resolve) => {
    this.opened = resolve;
  });

  /** `descriptor`: the blob's, once it is stored. */
  constructor(descriptor: Promise<Descriptor>) {
    this.watch = {
      opened: (tempFile) => {
        this.file = tempFile;
        try {
          if (!this.done) this.fd = openSync(tempFile, 'r');
        } catch {
          // Unreadable: the reader fails, and the blob is sent once it is stored instead.
          this.progress.failed();
        }
        this.opened();
      },
      grew: (bytes) => this.progress.grew(bytes),
      ended: (complete) => {
        if (complete) this.progress.finished();
        else this.progress.failed();
        this.opened();
      },
    };
    // A blob that never reached the store (its gzip failed first) ends a reader still waiting for the file.
    descriptor.catch(() => this.watch.ended(false));
    this.blob = { chunks: () => this.chunks(), descriptor, discard: () => void this.discard() };
  }

  /**
   * The build's cleanup: closes the file if nobody claimed the blob, else
   * waits for its claimer to be done (an upload still behind the
   * compression on a slow link runs to its end; the push waits for it anyway).
   */
  async close(): Promise<void> {
    if (this.claimed) return this.claimOver;
    await this.discard();
  }

  /** Nobody reads the blob (any more): its file goes. */
  private async discard(): Promise<void> {
    this.done = true;
    this.opened();
    await this.release();
    this.claimEnded();
  }

  private async release(): Promise<void> {
    const fd = this.fd;
    this.fd = undefined;
    if (fd !== undefined) await closeFd(fd).catch(() => undefined);
  }

  /** Claims the blob at once (see close): its bytes are read when the result is iterated. */
  private chunks(): AsyncIterable<Buffer> {
    if (this.claimed) throw new Error('a growing blob is read at most once');
    this.claimed = true;
    return this.read();
  }

  private async *read(): AsyncGenerator<Buffer, void, undefined> {
    try {
      await this.openedOnce;
      const fd = this.fd;
      if (fd === undefined) throw new Error(this.done ? 'the growing blob was discarded' : `the blob being written to ${this.file || 'the store'} cannot be read`);
      // From here the file is this reader's: only its end closes it (see close).
      yield* followWith(async (buffer, position) => (await readAt(fd, buffer, 0, buffer.length, position)).bytesRead, this.file, this.progress);
    } finally {
      await this.release();
      this.claimEnded();
    }
  }
}
