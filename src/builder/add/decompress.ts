/**
 * Compression of an ADD source, recognised by content and undone as a
 * stream.
 *
 * Magic bytes are moby's (pkg/archive DetectCompression): bzip2 `BZh`, gzip
 * `1f 8b 08`, xz `fd 37 7a 58 5a 00`, zstd `28 b5 2f fd` or a zstd skippable
 * frame. gzip is undone in-process (node:zlib); bzip2 and xz by the system's
 * `bzip2 -dc` / `xz -dc`, as moby runs `xz` (Node has neither codec); zstd by
 * node:zlib where this Node has it (22.15+) and by `zstd -dc` otherwise.
 *
 * A decompressor process reads the file itself (its stdin is the opened
 * file), and its output is read as fast as the consumer reads it: nothing is
 * buffered beyond the pipe and stream high-water marks. `close()` stops it
 * early (it is killed by its own handle, never by name).
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable, Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { HoistError } from '../../errors.js';

export type Compression = 'none' | 'gzip' | 'bzip2' | 'xz' | 'zstd';

/** How many leading bytes `sniffCompression` needs. */
export const SNIFF_BYTES = 6;

const MAGIC: ReadonlyArray<readonly [Exclude<Compression, 'none'>, readonly number[]]> = [
  ['bzip2', [0x42, 0x5a, 0x68]],
  ['gzip', [0x1f, 0x8b, 0x08]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
];

/** The compression `head` (the first bytes of a file) announces; 'none' when it announces none. */
export function sniffCompression(head: Uint8Array): Compression {
  for (const [kind, magic] of MAGIC) {
    if (head.length >= magic.length && magic.every((b, i) => head[i] === b)) return kind;
  }
  // A zstd skippable frame: 0x184D2A50..0x184D2A5F little-endian.
  if (head.length >= 4 && ((head[0] ?? 0) & 0xf0) === 0x50 && head[1] === 0x2a && head[2] === 0x4d && head[3] === 0x18) {
    return 'zstd';
  }
  return 'none';
}

/** A decompressed view of a file. */
export interface DecompressedFile {
  /** The decompressed bytes. Errors (corrupt data) arrive as stream errors. */
  stream: Readable;
  /**
   * Settles once the decompressor is done: rejects (HoistError
   * ARCHIVE_CORRUPT) when an external decompressor exits with an error
   * after its output ended. Never rejects after `close()`.
   */
  done: Promise<void>;
  /** Stops reading and ends the decompressor; safe to call more than once. */
  close(): void;
}

const INSTALL_HINT = 'install it (Debian/Ubuntu: apt-get install xz-utils bzip2 zstd; Alpine: apk add xz bzip2 zstd) and retry';

type ZstdZlib = { createZstdDecompress?: () => Transform };

/** Opens `file` and undoes `compression` as the returned stream is read. */
export async function openDecompressed(file: string, compression: Compression): Promise<DecompressedFile> {
  switch (compression) {
    case 'none':
      return inProcess(file, undefined);
    case 'gzip':
      return inProcess(file, zlib.createGunzip());
    case 'zstd': {
      const create = (zlib as unknown as ZstdZlib).createZstdDecompress;
      if (create !== undefined) return inProcess(file, create());
      return external(file, 'zstd', ['-dc', '-q']);
    }
    case 'bzip2':
      return external(file, 'bzip2', ['-dc', '-q']);
    case 'xz':
      return external(file, 'xz', ['-dc', '-q']);
  }
}

function inProcess(file: string, transform: Transform | undefined): DecompressedFile {
  const source = createReadStream(file, { highWaterMark: 256 * 1024 });
  if (transform === undefined) {
    return { stream: source, done: Promise.resolve(), close: () => source.destroy() };
  }
  source.on('error', (err) => transform.destroy(err));
  source.pipe(transform);
  return {
    stream: transform,
    done: Promise.resolve(),
    close: () => {
      source.unpipe(transform);
      source.destroy();
      transform.destroy();
    },
  };
}

const STDERR_LIMIT = 4096;

async function external(file: string, command: 'bzip2' | 'xz' | 'zstd', args: string[]): Promise<DecompressedFile> {
  const input = await open(file, 'r');
  let closed = false;
  const child = spawn(command, args, { stdio: [input.fd, 'pipe', 'pipe'] });
  // The child has its own copy of the descriptor once spawned (or failed to spawn).
  const released = input.close().catch(() => undefined);
  const { stdout, stderr } = child as typeof child & { stdout: Readable; stderr: Readable };
  let errText = '';
  stderr.setEncoding('utf8');
  stderr.on('data', (s: string) => {
    if (errText.length < STDERR_LIMIT) errText += s.slice(0, STDERR_LIMIT - errText.length);
  });

  const done = new Promise<void>((resolve, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      const failure =
        err.code === 'ENOENT'
          ? new HoistError('MISSING_DECOMPRESSOR', `${file} is ${command}-compressed, but the \`${command}\` program is not installed`, {
              hint: INSTALL_HINT,
              cause: err,
            })
          : new HoistError('DECOMPRESS_FAILED', `could not run \`${command}\` to decompress ${file}: ${err.message}`, { cause: err });
      stdout.destroy(failure);
      if (closed) resolve();
      else reject(failure);
    });
    child.once('close', (code, signal) => {
      if (closed || code === 0) {
        resolve();
        return;
      }
      const how = code === null ? `was killed by ${signal ?? 'a signal'}` : `exited with status ${code}`;
      const detail = errText.trim() === '' ? '' : `: ${errText.trim()}`;
      const failure = new HoistError('ARCHIVE_CORRUPT', `\`${command} -dc\` ${how} while decompressing ${file}${detail}`, {
        hint: `the file looks ${command}-compressed but could not be decompressed; check that it is complete and not corrupt`,
      });
      if (!stdout.destroyed) stdout.destroy(failure);
      reject(failure);
    });
  });
  const finished = done.then(() => released);
  // Whoever reads the stream sees failures there; `done` is for after the end
  // and may go unawaited when the reader gave up first.
  finished.catch(() => undefined);

  return {
    stream: stdout,
    done: finished,
    close: () => {
      if (closed) return;
      closed = true;
      stdout.destroy();
      stderr.destroy();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    },
  };
}
