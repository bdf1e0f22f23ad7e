/**
 * ADD's local archive sources: a file that is a tar archive (plain, gzip,
 * bzip2, xz or zstd), recognised by its content and never by its name, is
 * extracted into the destination directory; anything else is copied as is.
 *
 * Detection follows BuildKit (solver/llbsolver/file/unpack.go
 * isArchivePath) and moby (pkg/archive IsArchivePath): the file must be a
 * regular file, its first bytes may announce a compression, and the
 * (decompressed) stream must start with a valid tar header. So a `.gz` that
 * holds a single text file, a text file that happens to start with `BZh`, a
 * truncated compressed file, and an empty tar (all zero blocks) are not
 * archives: ADD copies them unchanged, as Docker does.
 *
 * Extraction yields LayerEntries rooted at `destDir` (see archive-tree.ts
 * for the path, symlink and hard-link rules, which are BuildKit's):
 * - mode bits (setuid, setgid, sticky included) come from the archive;
 * - uid/gid are the archive's numbers (uname/gname are ignored) unless
 *   `--chown` gives `uid`/`gid`, which then apply to every member (BuildKit
 *   >= 0.23; older Docker releases ignored --chown for archives);
 * - mtimes come from the archive (PAX mtime when present), truncated to
 *   seconds, before-the-epoch becomes 0, later than `mtimeClamp` becomes
 *   `mtimeClamp`;
 * - file names starting with `.wh.` are ordinary members here, as in
 *   BuildKit's unpacker; an OCI layer cannot hold such a name, so the layer
 *   writer refuses them (RESERVED_NAME).
 *
 * Contents and memory. Entries must be handed to the layer writer sorted by
 * path while an archive is in whatever order its creator chose, and a
 * compressed stream can be read only from the start; so file contents are
 * copied, as the archive is read once, into one spool file in a private
 * temporary directory, and each entry's `open()` reads its byte range back.
 * A plain (uncompressed) tar needs no spool: `open()` reads the range
 * straight from the archive, which must then stay unchanged until the
 * layer is written. Memory is bounded by stream buffers plus one small
 * record per member; disk use is the total size of the archive's files.
 * Call `cleanup()` once the layer is written (or abandoned); a failed
 * extraction cleans up after itself.
 *
 * The archive is read by the project's tar reader (src/tar): ustar, GNU and
 * PAX headers, V7 archives, base-256 numbers. Not kept: extended
 * attributes (the reader has them as bytes, but archive-tree.ts members
 * carry none yet); names that are not valid UTF-8 (decoded lossily); GNU
 * sparse members (refused).
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, stat, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HoistError } from '../../errors.js';
import { BLOCK, isTarError, isTarHeader, readTar, readTarFile, type TarEntry, type TarEntryHeader } from '../../tar/index.js';
import type { LayerEntry } from '../../../snapshot/layer-entry.js';
import { normalizeLayerPath } from '../../../snapshot/layer-path.js';
import { carriedXattrs } from '../../../snapshot/xattrs.js';
import { ArchiveTree, type ContentRef, type Member, type MemberMeta } from './archive-tree.js';
import { openDecompressed, sniffCompression, SNIFF_BYTES, type Compression } from './decompress.js';

export type ArchiveFormat = 'tar' | 'gzip' | 'bzip2' | 'xz' | 'zstd';

export { isTarHeader };

/**
 * The kind of tar archive `file` is, or null when ADD should copy it as is
 * (not a regular file, not a tar, or compressed data that is not a tar).
 * Throws MISSING_DECOMPRESSOR when the file is bzip2/xz/zstd-compressed and
 * the program needed to look inside is not installed: copying a .tar.xz
 * unextracted would silently build a different image.
 */
export async function detectArchive(file: string): Promise<ArchiveFormat | null> {
  const st = await stat(file);
  if (!st.isFile()) return null;
  const head = await readFileHead(file, BLOCK);
  const compression = sniffCompression(head.subarray(0, SNIFF_BYTES));
  if (compression === 'none') return isTarHeader(head) ? 'tar' : null;

  const dec = await openDecompressed(file, compression);
  try {
    const block = await readStreamHead(dec.stream, BLOCK);
    return isTarHeader(block) ? compression : null;
  } catch (err) {
    if (err instanceof HoistError && (err.code === 'MISSING_DECOMPRESSOR' || err.code === 'DECOMPRESS_FAILED')) throw err;
    return null; // corrupt or truncated compressed data: not an archive, like Go's tar.Reader.Next failing
  } finally {
    dec.close();
  }
}

async function readFileHead(file: string, n: number): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(n);
    let got = 0;
    while (got < n) {
      const { bytesRead } = await fh.read(buf, got, n - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got);
  } finally {
    await fh.close();
  }
}

async function readStreamHead(stream: NodeJS.ReadableStream, n: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let got = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    chunks.push(buf);
    got += buf.length;
    if (got >= n) break;
  }
  return Buffer.concat(chunks).subarray(0, n);
}

export interface ArchiveEntryOptions {
  /** `--chown` user: replaces every member's uid. */
  uid?: number;
  /** `--chown` group: replaces every member's gid. */
  gid?: number;
  /** SOURCE_DATE_EPOCH: later mtimes become this. */
  mtimeClamp?: number;
  /** The format `detectArchive` found; detected again when absent. */
  format?: ArchiveFormat;
  /** Where the spool directory is created; default os.tmpdir(). */
  spoolDir?: string;
  signal?: AbortSignal;
}

export interface ArchiveEntries {
  format: ArchiveFormat;
  /** In layer order. Directories the archive implies but does not list are left to the writer. */
  entries: LayerEntry[];
  /** Bytes copied to the spool (0 for a plain tar). */
  spooledBytes: number;
  /** Removes the spool. Idempotent; call it once the entries have been written. */
  cleanup(): Promise<void>;
}

/** Extracts `file` (a tar archive, see detectArchive) into entries under `destDir` (a layer path; '' is the layer root). */
export async function archiveEntries(file: string, destDir: string, opts: ArchiveEntryOptions = {}): Promise<ArchiveEntries> {
  const dest = normalizeDest(destDir);
  checkId('uid', opts.uid);
  checkId('gid', opts.gid);
  if (opts.mtimeClamp !== undefined && !(Number.isFinite(opts.mtimeClamp) && opts.mtimeClamp >= 0)) {
    throw new HoistError('INVALID_OPTION', `mtimeClamp must be a non-negative number of seconds, got ${opts.mtimeClamp}`);
  }
  opts.signal?.throwIfAborted();
  const format = opts.format ?? (await detectArchive(file));
  if (format === null) {
    throw new HoistError('NOT_AN_ARCHIVE', `${file} is not a tar archive (plain, gzip, bzip2, xz or zstd)`, {
      hint: 'check with detectArchive() first: ADD copies such a file as is',
    });
  }

  const spool = format === 'tar' ? undefined : await Spool.create(opts.spoolDir ?? tmpdir());
  try {
    const tree = new ArchiveTree(file, `archive:${randomUUID()}`);
    await readMembers(file, format, tree, spool, opts);
    await spool?.finish();
    const entries = tree.entries(dest);
    return {
      format,
      entries,
      spooledBytes: spool?.size ?? 0,
      cleanup: () => spool?.remove() ?? Promise.resolve(),
    };
  } catch (err) {
    await spool?.remove();
    throw err;
  }
}

function normalizeDest(destDir: string): string {
  const trimmed = destDir.replace(/^\/+/, '');
  if (trimmed.split('/').every((c) => c === '' || c === '.')) return '';
  return normalizeLayerPath(trimmed);
}

function checkId(what: string, id: number | undefined): void {
  if (id !== undefined && !(Number.isSafeInteger(id) && id >= 0)) {
    throw new HoistError('INVALID_OPTION', `--chown ${what} must be a non-negative integer, got ${id}`);
  }
}

async function readMembers(
  file: string,
  format: ArchiveFormat,
  tree: ArchiveTree,
  spool: Spool | undefined,
  opts: ArchiveEntryOptions,
): Promise<void> {
  let last: string | undefined;
  const each = async (entries: AsyncIterable<TarEntry>): Promise<void> => {
    for await (const entry of entries) {
      opts.signal?.throwIfAborted();
      last = entry.header.name;
      const member = await toMember(file, entry, spool, opts);
      if (member !== undefined) tree.add(entry.header.name, member);
    }
  };
  try {
    if (format === 'tar') {
      // The content stays in the archive: only headers are read.
      const handle = await open(file, 'r');
      try {
        await each(readTarFile(handle));
      } finally {
        await handle.close();
      }
      return;
    }
    const dec = await openDecompressed(file, format satisfies Compression);
    const onAbort = (): void => dec.close();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await each(readTar(dec.stream));
      await dec.done;
    } finally {
      opts.signal?.removeEventListener('abort', onAbort);
      dec.close();
    }
  } catch (err) {
    opts.signal?.throwIfAborted();
    if (err instanceof HoistError) throw err;
    const where = last === undefined ? 'at its start' : `after member ${JSON.stringify(last)}`;
    const why = isTarError(err) ? err.message : (err as Error).message;
    throw new HoistError('ARCHIVE_CORRUPT', `${file}: cannot read the ${format} archive ${where}: ${why}`, {
      hint: 'the archive is truncated or corrupt; check the file (e.g. `tar -tvf`)',
      cause: err,
    });
  }
}

async function toMember(file: string, entry: TarEntry, spool: Spool | undefined, opts: ArchiveEntryOptions): Promise<Member | undefined> {
  const { header } = entry;
  if (Object.keys(header.pax).some((k) => k.startsWith('GNU.sparse.'))) {
    throw unsupported(file, header.name, 'a GNU sparse file');
  }
  const meta: MemberMeta = {
    mode: header.mode & 0o7777,
    uid: opts.uid ?? header.uid,
    gid: opts.gid ?? header.gid,
    mtime: mtimeOf(header, opts.mtimeClamp),
  };
  // Kept as BuildKit's extraction keeps them (best effort, when the layer is applied), in the namespaces layers carry.
  const xattrs = carriedXattrs(header.xattrs);
  if (xattrs !== undefined) meta.xattrs = xattrs;
  switch (header.type) {
    case 'file': {
      const content = await storeContent(file, entry, spool);
      return { type: 'file', ...meta, size: header.size, content };
    }
    case 'dir':
      return { type: 'dir', ...meta };
    case 'symlink':
      return { type: 'symlink', ...meta, linkname: header.linkname };
    case 'link':
      return { type: 'hardlink', ...meta, linkname: header.linkname };
    case 'char-device':
    case 'block-device':
      return { type: header.type, ...meta, devmajor: header.devmajor, devminor: header.devminor };
    case 'fifo':
      return { type: 'fifo', ...meta };
    case 'other':
      throw unsupported(file, header.name, 'an entry type hoist cannot extract (GNU sparse, multi-volume, dump-dir or unknown)');
  }
}

function unsupported(file: string, name: string, what: string): HoistError {
  return new HoistError('UNSUPPORTED_ARCHIVE_MEMBER', `${file}: archive member ${JSON.stringify(name)} is ${what}`, {
    hint: 'recreate the archive with regular files, directories, links and devices only (e.g. without `tar --sparse`), or unpack it in a RUN step',
  });
}

function mtimeOf(header: TarEntryHeader, clamp: number | undefined): number {
  let t = Math.floor(header.mtime);
  if (!Number.isFinite(t) || t < 0) t = 0; // BuildKit: times before the epoch become the epoch
  if (clamp !== undefined && t > clamp) t = Math.floor(clamp);
  return t;
}

async function storeContent(file: string, entry: TarEntry, spool: Spool | undefined): Promise<ContentRef> {
  const { size } = entry.header;
  // Plain tar: the bytes are already on disk, in the archive itself.
  if (spool === undefined) return rangeOf(file, entry.offset, size);
  const start = spool.size;
  for await (const chunk of entry.body) await spool.write(chunk);
  if (spool.size - start !== size) {
    throw new HoistError('ARCHIVE_CORRUPT', `${file}: archive member announced ${size} bytes but held ${spool.size - start}`);
  }
  return rangeOf(spool.path, start, size);
}

function rangeOf(path: string, start: number, size: number): ContentRef {
  return {
    open: () => createReadStream(path, { start, end: start + size - 1, highWaterMark: 256 * 1024 }),
  };
}

/** One append-only file in a private directory that holds the contents of every member. */
class Spool {
  size = 0;
  private handle: FileHandle | undefined;
  private removed = false;

  private constructor(
    readonly dir: string,
    readonly path: string,
    handle: FileHandle,
  ) {
    this.handle = handle;
  }

  static async create(parent: string): Promise<Spool> {
    let dir: string;
    try {
      dir = await mkdtemp(join(parent, 'hoist-add-'));
    } catch (err) {
      throw new HoistError('SPOOL_FAILED', `cannot create a spool directory for archive contents in ${parent}: ${(err as Error).message}`, {
        hint: 'point the temporary directory (TMPDIR) at a writable place with room for the extracted files',
        cause: err,
      });
    }
    const path = join(dir, 'contents');
    try {
      return new Spool(dir, path, await open(path, 'wx', 0o600));
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  async write(chunk: Buffer): Promise<void> {
    const handle = this.handle;
    if (handle === undefined) throw new Error('spool is closed');
    let done = 0;
    while (done < chunk.length) {
      const { bytesWritten } = await handle.write(chunk, done, chunk.length - done, this.size + done);
      done += bytesWritten;
    }
    this.size += chunk.length;
  }

  /** Closes the file for writing; its ranges can then be read. */
  async finish(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }

  async remove(): Promise<void> {
    if (this.removed) return;
    this.removed = true;
    await this.finish().catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }
}
