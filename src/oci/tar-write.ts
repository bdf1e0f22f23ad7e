/**
 * Writing a tar stream member by member, streaming each member's content
 * with backpressure. Headers are deterministic: owner 0:0, mtime 0, mode
 * 0644 (0755 for directories), so the same content gives the same archive.
 */
import { Readable } from 'node:stream';
import { writeStreamAtomic } from './atomic-file.js';
import * as tar from 'tar-stream';

type Header = Partial<tar.Header> & { name: string };

export class TarWriter {
  private readonly pack = tar.pack();
  /** The tar bytes; pipe this somewhere while adding members. */
  readonly output: Readable = Readable.from(this.pack, { objectMode: false });

  async directory(name: string): Promise<void> {
    await this.add({ name: name.endsWith('/') ? name : `${name}/`, type: 'directory', mode: 0o755 }, Buffer.alloc(0));
  }

  async file(name: string, data: Buffer): Promise<void> {
    await this.add({ name, type: 'file', mode: 0o644, size: data.length }, data);
  }

  async symlink(name: string, target: string): Promise<void> {
    await this.add({ name, type: 'symlink', mode: 0o777, linkname: target }, Buffer.alloc(0));
  }

  /** Stream `source` as member `name`; it must produce exactly `size` bytes. */
  async stream(name: string, size: number, source: Readable): Promise<void> {
    let finished!: (err?: Error | null) => void;
    const done = new Promise<void>((resolve, reject) => {
      finished = (err) => (err ? reject(err) : resolve());
    });
    // Rejections are observed below; this keeps an early one from being "unhandled".
    done.catch(() => undefined);
    const entry = this.pack.entry(this.header({ name, type: 'file', mode: 0o644, size }), finished);
    // Entry failures arrive through `finished`; without a listener streamx would throw them.
    entry.on('error', () => undefined);
    let written = 0;
    try {
      for await (const chunk of source) {
        const buf = chunk as Buffer;
        written += buf.length;
        if (written > size) throw new Error(`tar member ${name}: more than the declared ${size} bytes`);
        if (!entry.write(buf)) await Promise.race([new Promise<void>((r) => entry.once('drain', () => r())), done]);
      }
      if (written !== size) throw new Error(`tar member ${name}: got ${written} bytes, declared ${size}`);
      entry.end(undefined);
    } catch (err) {
      source.destroy();
      this.abort(err as Error);
      throw err;
    }
    await done;
  }

  /** No more members: write the end-of-archive blocks. */
  finish(): void {
    this.pack.finalize();
  }

  /** Fail the output stream (so a file being written from it is discarded). */
  abort(err: Error): void {
    this.pack.destroy(err);
  }

  private header(h: Header): Header {
    return { uid: 0, gid: 0, uname: '', gname: '', mtime: new Date(0), ...h };
  }

  private add(h: Header, data: Buffer): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pack.entry(this.header(h), data, (err) => (err ? reject(err) : resolve()));
    });
  }
}

/**
 * Write a tar file whole or not at all: `fill` adds the members while the
 * bytes stream to a temp file that is renamed into place at the end. On any
 * failure the temp file is gone before the error is reported; the output's
 * error is the root cause (a fill failure is passed on to it).
 */
export async function writeTarAtomic<T>(file: string, fill: (tar: TarWriter) => Promise<T>): Promise<T> {
  const writer = new TarWriter();
  const written = writeStreamAtomic(file, writer.output);
  const filled = fill(writer).then(
    (value) => {
      writer.finish();
      return value;
    },
    (err: unknown) => {
      writer.abort(err instanceof Error ? err : new Error(String(err)));
      throw err;
    },
  );
  const [fillResult, output] = await Promise.allSettled([filled, written]);
  if (output.status === 'rejected') throw output.reason;
  if (fillResult.status === 'rejected') throw fillResult.reason;
  return fillResult.value;
}
