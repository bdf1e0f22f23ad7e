/**
 * Layer compression: recognise it from magic bytes, and undo it as a stream.
 * zstd needs a Node with zlib zstd support (22.15+); elsewhere it is a clear
 * HoistError rather than a crash.
 */
import type { Transform } from 'node:stream';
import { createRequire } from 'node:module';
import type * as Zlib from 'node:zlib';
import { HoistError } from '../errors.js';
import type { Compression } from './media-types.js';

/** node:zlib on first use: a build whose steps are all cached never compresses, and loading zlib costs every command a few ms. */
function zlibModule(): typeof Zlib {
  return createRequire(import.meta.url)('node:zlib') as typeof Zlib;
}

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

function startsWith(head: Uint8Array, magic: readonly number[]): boolean {
  return head.length >= magic.length && magic.every((b, i) => head[i] === b);
}

/** Compression recognised from the first bytes of a blob (4 are enough). */
export function sniffCompression(head: Uint8Array): Compression {
  if (startsWith(head, GZIP_MAGIC)) return 'gzip';
  if (startsWith(head, ZSTD_MAGIC)) return 'zstd';
  return 'none';
}

/**
 * Output buffer of a gunzip: zlib's default 16 KiB made a 64 MiB layer
 * 4,000 thread-pool round trips, each a main-thread callback and a fresh
 * buffer (about three times the CPU of inflating it, bench/build-vs-buildah's
 * rootfs unpack). The bytes out do not depend on it.
 */
const INFLATE_CHUNK = 256 * 1024;

type ZstdZlib = { createZstdDecompress?: () => Transform; createZstdCompress?: () => Transform };

/** A Transform that undoes `compression`, or undefined for 'none'. */
export function decompressor(compression: Compression): Transform | undefined {
  switch (compression) {
    case 'none':
      return undefined;
    case 'gzip':
      return zlibModule().createGunzip({ chunkSize: INFLATE_CHUNK });
    case 'zstd': {
      const create = (zlibModule() as unknown as ZstdZlib).createZstdDecompress;
      if (create === undefined) {
        throw new HoistError('UNSUPPORTED_COMPRESSION', `zstd layers need Node.js 22.15 or newer (this is ${process.version})`, {
          hint: 'run hoist on a newer Node.js, or use an image with gzip layers',
        });
      }
      return create();
    }
  }
}

/** gzip at a fixed level, so the same input always gives the same bytes on one Node version. */
export function gzipCompressor(): Transform {
  const zlib = zlibModule();
  return zlib.createGzip({ level: zlib.constants.Z_DEFAULT_COMPRESSION });
}
