/**
 * Reading tar archives, member by member, as Go's archive/tar does (the
 * reader BuildKit, containerd and crane use): V7, ustar, star and GNU
 * headers; GNU long names and long link names (`L`, `K`); PAX extended
 * headers (`x`: path, linkpath, size, uid, gid, mtime, uname, gname,
 * `SCHILY.xattr.*` as bytes; any other record is kept as text) and global
 * ones (`g`, applied to every later member, as POSIX says); base-256
 * numbers. GNU sparse members are not expanded: they come out as type
 * 'other' (old GNU `S`) or as files with `GNU.sparse.*` records, for the
 * caller to refuse.
 *
 * Streaming: a member's content is handed out in the chunks the source
 * produced, and whatever a consumer does not read is skipped (without
 * reading it, for a file). Memory does not grow with member or archive
 * size; only PAX and long-name records (at most 1 MiB, as in Go) are held.
 */
import type { FileHandle } from 'node:fs/promises';
import { TarError } from './error.js';
import { cstring, decodeHeaderBlock, decodePaxRecords, isZeroBlock, type HeaderBlock } from './decode.js';
import { BLOCK, paddingFor, type TarType } from './header.js';
import { FileSource, StreamSource, type ByteSource } from './source.js';

export type TarEntryType = TarType | 'other';

export interface TarEntryHeader {
  /** As stored (PAX path, GNU long name, or prefix/name); not normalised. */
  name: string;
  /** 'other' for everything else (GNU sparse, volume labels...); see typeflag. */
  type: TarEntryType;
  /** The raw type character. */
  typeflag: string;
  /** The mode field as stored (some archivers keep file-type bits there). */
  mode: number;
  uid: number;
  gid: number;
  /** Content bytes that follow; 0 for links, directories, devices and fifos whatever the header says. */
  size: number;
  /** Seconds since the epoch; PAX may give fractions or a negative value. */
  mtime: number;
  linkname: string;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
  /** `SCHILY.xattr.<name>` records, values as bytes. */
  xattrs?: Record<string, Buffer>;
  /** Every PAX record that applied (global, then the member's own), xattrs included, as UTF-8 text. */
  pax: Record<string, string>;
}

export interface TarEntry {
  header: TarEntryHeader;
  /** Where the content starts in the archive. */
  offset: number;
  /**
   * The content, streamed. Read it (or not) before asking for the next
   * entry: the reader skips what is left when it moves on.
   */
  body: AsyncIterable<Buffer>;
}

/** Longest PAX or GNU long-name record held in memory (Go's maxSpecialFileSize). */
const MAX_META = 1024 * 1024;

/**
 * The members of the tar that `source` (a stream of bytes) holds. After the
 * end-of-archive marker the rest of the source is read and dropped, so that
 * a digest-verifying or decompressing source gets to its end. Leaving the
 * loop early closes the source.
 */
export function readTar(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<TarEntry, void, undefined> {
  return readEntries(new StreamSource(source));
}

/**
 * The members of the tar file open as `handle`, with positioned reads: the
 * content of a member no one reads is never read. `size` defaults to the
 * file's size.
 */
export async function* readTarFile(handle: FileHandle, size?: number): AsyncGenerator<TarEntry, void, undefined> {
  yield* readEntries(new FileSource(handle, size ?? (await handle.stat()).size));
}

const HEADER_ONLY: ReadonlySet<TarEntryType> = new Set(['link', 'symlink', 'char-device', 'block-device', 'dir', 'fifo']);

async function* readEntries(src: ByteSource): AsyncGenerator<TarEntry, void, undefined> {
  const global = new Map<string, Buffer>();
  let local: Array<[string, Buffer]> = [];
  let longName: string | undefined;
  let longLink: string | undefined;
  try {
    for (;;) {
      const at = src.position;
      const block = await src.read(BLOCK);
      // Ending at a block boundary without the end marker is accepted, as Go does.
      if (block === null) return;
      if (isZeroBlock(block)) {
        await src.drain();
        return;
      }
      const raw = decodeHeaderBlock(block, at);
      if (raw.size < 0) throw new TarError('corrupt', `negative size in the header at offset ${at}`, at);
      switch (raw.typeflag) {
        case 'x':
          local = decodePaxRecords(await readMeta(src, raw.size, at), at);
          continue;
        case 'g':
          for (const [k, v] of decodePaxRecords(await readMeta(src, raw.size, at), at)) global.set(k, Buffer.from(v));
          continue;
        case 'L':
          longName = cstringOf(await readMeta(src, raw.size, at));
          continue;
        case 'K':
          longLink = cstringOf(await readMeta(src, raw.size, at));
          continue;
      }
      const header = buildHeader(raw, [...global, ...local], longName, longLink, at);
      local = [];
      longName = undefined;
      longLink = undefined;

      const offset = src.position;
      const state = { remaining: header.size, current: true };
      const body = (async function* content(): AsyncGenerator<Buffer, void, undefined> {
        while (state.current && state.remaining > 0) {
          let piece = src.takeBuffered(state.remaining);
          if (piece === undefined) {
            try {
              piece = await src.readSome(state.remaining);
            } catch (err) {
              throw pastTheEnd(err, header.name, offset);
            }
          }
          state.remaining -= piece.length;
          yield piece;
        }
      })();
      yield { header, offset, body };
      state.current = false;
      await src.skip(state.remaining + paddingFor(header.size)).catch((err: unknown) => {
        throw pastTheEnd(err, header.name, offset);
      });
    }
  } finally {
    await src.close();
  }
}

function pastTheEnd(err: unknown, name: string, offset: number): unknown {
  if (!(err instanceof TarError) || err.kind !== 'truncated') return err;
  return new TarError('truncated', `member ${JSON.stringify(name)} at offset ${offset} runs past the end of the archive`, err.offset);
}

async function readMeta(src: ByteSource, size: number, at: number): Promise<Buffer> {
  if (size > MAX_META) throw new TarError('corrupt', `metadata record of ${size} bytes at offset ${at}`, at);
  if (size === 0) return Buffer.alloc(0);
  const data = await src.read(size);
  if (data === null) throw new TarError('truncated', `the archive ends inside the metadata record at offset ${at}`, at);
  // A view into the source's buffer is fine: it is decoded before the next read.
  await src.skip(paddingFor(size));
  return data;
}

function cstringOf(data: Buffer): string {
  return cstring(data, 0, data.length);
}

function typeOf(raw: HeaderBlock, name: string): TarEntryType {
  switch (raw.typeflag) {
    case '\0':
      // Old V7 archives mark directories by a trailing slash only (Go: TypeRegA).
      return name.endsWith('/') ? 'dir' : 'file';
    case '0':
    case '7':
      return 'file';
    case '1':
      return 'link';
    case '2':
      return 'symlink';
    case '3':
      return 'char-device';
    case '4':
      return 'block-device';
    case '5':
      return 'dir';
    case '6':
      return 'fifo';
    default:
      return 'other';
  }
}

function buildHeader(
  raw: HeaderBlock,
  records: ReadonlyArray<readonly [string, Buffer]>,
  longName: string | undefined,
  longLink: string | undefined,
  at: number,
): TarEntryHeader {
  const pax: Record<string, string> = {};
  let xattrs: Record<string, Buffer> | undefined;
  for (const [key, value] of records) {
    pax[key] = value.toString('utf8');
    if (key.startsWith('SCHILY.xattr.')) (xattrs ??= {})[key.slice('SCHILY.xattr.'.length)] = Buffer.from(value);
  }
  const int = (key: string, fallback: number): number => {
    const v = pax[key];
    if (v === undefined) return fallback;
    if (!/^[0-9]+$/.test(v) || !Number.isSafeInteger(Number(v))) {
      throw new TarError('corrupt', `bad PAX ${key} ${JSON.stringify(v)} for the member at offset ${at}`, at);
    }
    return Number(v);
  };
  const name = pax.path ?? longName ?? raw.name;
  const type = typeOf(raw, name);
  let mtime = raw.mtime;
  if (pax.mtime !== undefined) {
    mtime = Number(pax.mtime);
    if (!/^-?[0-9]+(\.[0-9]*)?$/.test(pax.mtime) || !Number.isFinite(mtime)) {
      throw new TarError('corrupt', `bad PAX mtime ${JSON.stringify(pax.mtime)} for the member at offset ${at}`, at);
    }
  }
  const header: TarEntryHeader = {
    name,
    type,
    typeflag: raw.typeflag,
    mode: raw.mode,
    uid: int('uid', raw.uid),
    gid: int('gid', raw.gid),
    size: HEADER_ONLY.has(type) ? 0 : int('size', raw.size),
    mtime,
    linkname: pax.linkpath ?? longLink ?? raw.linkname,
    uname: pax.uname ?? raw.uname,
    gname: pax.gname ?? raw.gname,
    devmajor: raw.devmajor,
    devminor: raw.devminor,
    pax,
  };
  if (xattrs !== undefined) header.xattrs = xattrs;
  return header;
}
