/**
 * Writing tar archives: every tar hoist produces (layers, `hoist export`,
 * OCI and docker archives) is made of encodeHeader's headers, content, and
 * padding, through one of two fronts over the same pieces:
 *
 * - tarChunks: pull. Members come from an (async) iterable; a member's
 *   content is opened only when the writer reaches it and read only as fast
 *   as the consumer reads the output. Small pieces are merged into chunks
 *   of up to 64 KiB; large content chunks pass through without a copy.
 * - TarWriter: push. Members are added one call at a time (archive sinks
 *   whose contents come from awaited image methods); each call resolves
 *   once its bytes are accepted by `output`, which applies backpressure.
 *
 * Content that has more or fewer bytes than its header announced is a
 * TarError 'size-mismatch': a torn member would shift every later header.
 */
import { PassThrough, type Readable } from 'node:stream';
import { TarError } from './error.js';
import { END_OF_ARCHIVE, encodeHeader, paddingFor, type TarHeader } from './header.js';

/** Member content: chunks of bytes (a Readable without an encoding is one). */
export type TarContent = AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Readable;

export interface TarMemberInput {
  header: TarHeader;
  /** The content of a `file` member: exactly `header.size` bytes. Called once, when the writer reaches it. */
  open?: () => TarContent;
}

export type TarMemberSource = Iterable<TarMemberInput> | AsyncIterable<TarMemberInput>;

/** Small pieces (headers, small files, padding) are merged up to this size before they are handed on. */
const CHUNK = 64 * 1024;
/** A piece this large is handed on as it is: copying it would cost more than the extra chunk downstream. */
const PASS_THROUGH = 16 * 1024;
const ZEROS = Buffer.alloc(512);

/** The tar of `members` (then the end-of-archive marker) as an async sequence of buffers. */
export async function* tarChunks(members: TarMemberSource): AsyncGenerator<Buffer, void, undefined> {
  const out = new Coalescer(CHUNK, PASS_THROUGH);
  // Coalescer calls return the chunks they complete (mostly none): a generator per call cost more than the copy.
  for await (const member of members) {
    for (const ready of out.add(encodeHeader(member.header))) yield ready;
    if (member.open === undefined || member.header.size === 0) continue;
    const content = member.open();
    // Content already in memory (a small file read by a walk) skips an async generator per member.
    if (Array.isArray(content)) {
      for (const chunk of listedChunks(member.header.name, member.header.size, content)) for (const ready of out.add(chunk)) yield ready;
    } else {
      for await (const chunk of contentChunks(member.header.name, member.header.size, content)) for (const ready of out.add(chunk)) yield ready;
    }
  }
  for (const ready of out.add(END_OF_ARCHIVE)) yield ready;
  for (const ready of out.flush()) yield ready;
}

/** `source`'s bytes checked against `size`, then the padding that completes the last block. */
async function* contentChunks(name: string, size: number, source: TarContent): AsyncGenerator<Buffer, void, undefined> {
  let copied = 0;
  try {
    for await (const chunk of source) {
      const buf = toBuffer(chunk, name);
      copied += buf.length;
      if (copied > size) throw sizeMismatch(name, size, `more than ${size}`);
      yield buf;
    }
  } catch (err) {
    destroy(source);
    throw err;
  }
  if (copied !== size) throw sizeMismatch(name, size, String(copied));
  const pad = paddingFor(size);
  if (pad > 0) yield ZEROS.subarray(0, pad);
}

/** contentChunks for content given as a list of buffers. */
function* listedChunks(name: string, size: number, chunks: readonly Uint8Array[]): Generator<Buffer, void, undefined> {
  const buffers = chunks.map((chunk) => toBuffer(chunk, name));
  let copied = 0;
  for (const buf of buffers) copied += buf.length;
  if (copied > size) throw sizeMismatch(name, size, `more than ${size}`);
  if (copied !== size) throw sizeMismatch(name, size, String(copied));
  yield* buffers;
  const pad = paddingFor(size);
  if (pad > 0) yield ZEROS.subarray(0, pad);
}

function destroy(source: unknown): void {
  const d = (source as { destroy?: () => void }).destroy;
  if (typeof d === 'function') d.call(source);
}

function sizeMismatch(name: string, size: number, read: string): TarError {
  return new TarError('size-mismatch', `${name}: the header says ${size} bytes but the content has ${read}`);
}

function toBuffer(chunk: unknown, name: string): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError(`content of ${name} yielded ${typeof chunk}, not bytes (is an encoding set on the stream?)`);
}

/**
 * Copies small buffers into chunks of up to `limit` bytes; a buffer of at
 * least `passThrough` bytes is handed on without a copy.
 */
class Coalescer {
  private acc: Buffer;
  private used = 0;

  constructor(
    private readonly limit: number,
    private readonly passThrough: number,
  ) {
    this.acc = Buffer.allocUnsafe(limit);
  }

  /** Takes `buf`; returns the chunks now complete, in order (usually none). */
  add(buf: Buffer): readonly Buffer[] {
    if (buf.length >= this.passThrough) {
      const flushed = this.flush();
      return flushed.length === 0 ? [buf] : [...flushed, buf];
    }
    const flushed = this.used + buf.length > this.limit ? this.flush() : NONE;
    buf.copy(this.acc, this.used);
    this.used += buf.length;
    return flushed;
  }

  /** What is held, as one chunk (none if empty). */
  flush(): readonly Buffer[] {
    if (this.used === 0) return NONE;
    let out: Buffer;
    if (this.used <= this.limit / 4) {
      // A few headers before a large piece: copy them out and keep the buffer.
      out = Buffer.from(this.acc.subarray(0, this.used));
    } else {
      out = this.acc.subarray(0, this.used);
      this.acc = Buffer.allocUnsafe(this.limit);
    }
    this.used = 0;
    return [out];
  }
}

const NONE: readonly Buffer[] = Object.freeze([]);

/** Owner 0:0, no owner names, mtime 0: the same content gives the same archive. */
const FIXED = { uid: 0, gid: 0, mtime: 0 } as const;

/**
 * A tar written member by member with deterministic headers (owner 0:0,
 * mtime 0, mode 0644 for files, 0755 for directories). Calls must not
 * overlap: await each before the next.
 */
export class TarWriter {
  private readonly out = new PassThrough({ highWaterMark: CHUNK });
  /** The tar bytes; pipe this somewhere while adding members. */
  readonly output: Readable = this.out;

  async directory(name: string): Promise<void> {
    await this.put(encodeHeader({ ...FIXED, name: name.endsWith('/') ? name : `${name}/`, type: 'dir', mode: 0o755, size: 0 }));
  }

  async file(name: string, data: Buffer): Promise<void> {
    await this.stream(name, data.length, [data]);
  }

  async symlink(name: string, target: string): Promise<void> {
    await this.put(encodeHeader({ ...FIXED, name, type: 'symlink', mode: 0o777, size: 0, linkname: target }));
  }

  /** Streams `source` as member `name`; it must produce exactly `size` bytes (TarError 'size-mismatch' otherwise, and the output fails). */
  async stream(name: string, size: number, source: TarContent): Promise<void> {
    try {
      await this.put(encodeHeader({ ...FIXED, name, type: 'file', mode: 0o644, size }));
      for await (const chunk of contentChunks(name, size, source)) await this.put(chunk);
    } catch (err) {
      destroy(source);
      this.abort(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  }

  /** No more members: write the end-of-archive blocks and end the output. */
  finish(): void {
    if (!this.out.destroyed) this.out.end(END_OF_ARCHIVE);
  }

  /** Fails the output stream (so a file being written from it is discarded). */
  abort(err: Error): void {
    this.out.destroy(err);
  }

  private async put(buf: Buffer): Promise<void> {
    if (this.out.destroyed || this.out.writableEnded) {
      throw this.out.errored ?? new Error('the tar output was closed before all members were written');
    }
    if (this.out.write(buf)) return;
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error): void => {
        this.out.off('drain', onDrain);
        this.out.off('close', onClose);
        if (err) reject(err);
        else resolve();
      };
      const onDrain = (): void => done();
      const onClose = (): void => done(this.out.errored ?? new Error('the tar output was closed before all members were written'));
      this.out.on('drain', onDrain);
      this.out.on('close', onClose);
    });
  }
}
