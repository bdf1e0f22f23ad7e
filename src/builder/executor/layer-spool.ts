import { open, unlink } from 'node:fs/promises';
import type { Readable } from 'node:stream';

/**
 * A layer's tar in a spool file, readable while its gzip is still being
 * written into the store: what the rootfs unpacks from, without waiting
 * for (or undoing) the compression. Once released, it is removed as soon
 * as no reader has it open; `open` then answers undefined and readers go
 * to the stored blob.
 */
export class LayerSpool {
  private readers = 0;
  private released = false;
  private removed = false;

  constructor(readonly path: string) {}

  /** A stream of the whole tar, or undefined once the spool is released. */
  open(): Promise<Readable> | undefined {
    if (this.released) return undefined;
    this.readers++;
    return open(this.path, 'r').then(
      (handle) => {
        const stream = handle.createReadStream({ start: 0, highWaterMark: 1 << 20 });
        stream.once('close', () => this.readerDone());
        return stream;
      },
      (err: unknown) => {
        this.readerDone();
        throw err;
      },
    );
  }

  /** Keep the file for a reader of its own (one that follows the writer); call the result when it is done with it. */
  hold(): () => void {
    this.readers++;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.readerDone();
    };
  }

  /** No new reader: the file goes once the last one closes. */
  release(): void {
    this.released = true;
    if (this.readers === 0) this.remove();
  }

  private readerDone(): void {
    this.readers--;
    if (this.released && this.readers === 0) this.remove();
  }

  private remove(): void {
    if (this.removed) return;
    this.removed = true;
    void unlink(this.path).catch(() => undefined);
  }
}
