/**
 * Where the reader takes bytes from: a stream (read once, front to back)
 * or a file (positioned reads, so member content can be skipped without
 * reading it). Both hand out views of their buffers, never copies, except
 * when a header block spans two stream chunks.
 */
import type { FileHandle } from 'node:fs/promises';
import { TarError } from './error.js';

export interface ByteSource {
  /** Bytes consumed so far: the offset of the next byte in the archive. */
  readonly position: number;
  /** Exactly `n` bytes; null at a clean end (no byte left); TarError 'truncated' when fewer remain. */
  read(n: number): Promise<Buffer | null>;
  /** At most `n` (> 0) bytes, at least one; TarError 'truncated' at the end. */
  readSome(n: number): Promise<Buffer>;
  /** Like readSome, without waiting: undefined when nothing is buffered (the hot path for content). */
  takeBuffered(n: number): Buffer | undefined;
  /** Drops `n` bytes; TarError 'truncated' when fewer remain. */
  skip(n: number): Promise<void>;
  /** Consumes whatever is left (a stream is read to its end, so that whoever verifies it sees every byte). */
  drain(): Promise<void>;
  /** Stops reading; idempotent. */
  close(): Promise<void>;
}

const EMPTY = Buffer.alloc(0);

function truncated(position: number): TarError {
  return new TarError('truncated', `the archive ends unexpectedly at offset ${position}`, position);
}

export class StreamSource implements ByteSource {
  private readonly it: AsyncIterator<Uint8Array | string>;
  /** The next chunk, asked for as soon as the current one arrives. */
  private ahead: Promise<IteratorResult<Uint8Array | string>> | undefined;
  private chunk: Buffer = EMPTY;
  private pos = 0;
  private ended = false;

  constructor(private readonly source: AsyncIterable<Uint8Array | string>) {
    this.it = source[Symbol.asyncIterator]();
  }

  get position(): number {
    return this.pos;
  }

  /** False once the source has nothing more. */
  private async fill(): Promise<boolean> {
    while (this.chunk.length === 0) {
      if (this.ended) return false;
      const r = await (this.ahead ?? this.it.next());
      this.ahead = undefined;
      if (r.done === true) {
        this.ended = true;
        return false;
      }
      // Read ahead by one chunk, so that a decompressor feeding the source
      // works on the next chunk while this one is parsed and handed on.
      this.ahead = this.it.next();
      this.ahead.catch(() => undefined); // seen when awaited; not unhandled if never awaited
      const v = r.value;
      this.chunk = typeof v === 'string' ? Buffer.from(v) : Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    }
    return true;
  }

  async read(n: number): Promise<Buffer | null> {
    if (!(await this.fill())) return null;
    if (this.chunk.length >= n) return this.take(n);
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n) {
      if (!(await this.fill())) throw truncated(this.pos);
      const piece = this.take(Math.min(n - got, this.chunk.length));
      parts.push(piece);
      got += piece.length;
    }
    return Buffer.concat(parts, n);
  }

  async readSome(n: number): Promise<Buffer> {
    if (!(await this.fill())) throw truncated(this.pos);
    return this.take(Math.min(n, this.chunk.length));
  }

  takeBuffered(n: number): Buffer | undefined {
    return this.chunk.length === 0 ? undefined : this.take(Math.min(n, this.chunk.length));
  }

  async skip(n: number): Promise<void> {
    let left = n;
    while (left > 0) left -= (this.takeBuffered(left) ?? (await this.readSome(left))).length;
  }

  async drain(): Promise<void> {
    while (await this.fill()) this.take(this.chunk.length);
  }

  async close(): Promise<void> {
    if (this.ended && this.ahead === undefined) return;
    this.ended = true;
    this.chunk = EMPTY;
    const pending = this.ahead;
    this.ahead = undefined;
    // A stream is destroyed outright: return() would wait behind the pending read.
    const destroy = (this.source as { destroy?: () => void }).destroy;
    if (typeof destroy === 'function') {
      destroy.call(this.source);
      return;
    }
    // Behind the read-ahead, return() settles once that read has; its result is dropped.
    pending?.catch(() => undefined);
    await this.it.return?.();
  }

  private take(n: number): Buffer {
    const out = this.chunk.subarray(0, n);
    this.chunk = this.chunk.subarray(n);
    this.pos += n;
    return out;
  }
}

/** Header reads come from a window of this size, so that a run of small members costs one read. */
const WINDOW = 64 * 1024;

export class FileSource implements ByteSource {
  private window: Buffer = EMPTY;
  private windowStart = 0;
  private pos = 0;

  constructor(
    private readonly handle: FileHandle,
    private readonly size: number,
  ) {}

  get position(): number {
    return this.pos;
  }

  async read(n: number): Promise<Buffer | null> {
    if (this.pos >= this.size) return null;
    if (this.pos + n > this.size) throw truncated(this.pos);
    const out = await this.view(n);
    this.pos += n;
    return out;
  }

  async readSome(n: number): Promise<Buffer> {
    if (this.pos >= this.size) throw truncated(this.pos);
    const out = await this.view(Math.min(n, this.size - this.pos, WINDOW));
    this.pos += out.length;
    return out;
  }

  takeBuffered(n: number): Buffer | undefined {
    const rel = this.pos - this.windowStart;
    const len = Math.min(n, this.window.length - rel);
    if (rel < 0 || len <= 0) return undefined;
    this.pos += len;
    return this.window.subarray(rel, rel + len);
  }

  async skip(n: number): Promise<void> {
    if (this.pos + n > this.size) throw truncated(this.pos);
    this.pos += n;
  }

  async drain(): Promise<void> {
    this.pos = this.size;
  }

  async close(): Promise<void> {
    this.window = EMPTY;
  }

  /** `n` bytes at `pos`, from the window when it holds them. */
  private async view(n: number): Promise<Buffer> {
    const rel = this.pos - this.windowStart;
    if (rel >= 0 && rel + n <= this.window.length) return this.window.subarray(rel, rel + n);
    const len = Math.min(Math.max(n, WINDOW), this.size - this.pos);
    const buf = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const { bytesRead } = await this.handle.read(buf, got, len - got, this.pos + got);
      if (bytesRead === 0) throw truncated(this.pos + got);
      got += bytesRead;
    }
    this.window = buf;
    this.windowStart = this.pos;
    return buf.subarray(0, n);
  }
}
