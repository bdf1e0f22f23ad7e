/**
 * One tar header block, decoded, as Go's archive/tar does it (the reader
 * BuildKit and containerd use): V7, ustar, star and GNU blocks, octal or
 * base-256 numbers, a checksum over unsigned or signed bytes; and PAX
 * records. Pure: bytes in, fields out.
 */
import { TarError } from './error.js';
import { BLOCK } from './header.js';

const NAME_SIZE = 100;
const PREFIX_SIZE = 155;
const OWNER_NAME_SIZE = 32;

/** The block layout a header was written in (Go's archive/tar getFormat). */
export type BlockFormat = 'v7' | 'ustar' | 'star' | 'gnu';

/** The fields of one header block, before PAX or GNU long-name records are applied. */
export interface HeaderBlock {
  format: BlockFormat;
  /** One character; '\0' for old V7 regular files. */
  typeflag: string;
  /** prefix + '/' + name for ustar and star. */
  name: string;
  linkname: string;
  mode: number;
  uid: number;
  gid: number;
  /** As the block says; PAX `size` may override it. */
  size: number;
  mtime: number;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
}

/**
 * Whether `block` is a tar header Go's archive/tar would accept as the
 * first one: 512 bytes, not all zero (a zero block starts the end-of-archive
 * marker), a checksum that matches, and numeric fields that parse. Any
 * format passes: V7, ustar, GNU, PAX.
 */
export function isTarHeader(block: Uint8Array): boolean {
  if (block.length < BLOCK || isZeroBlock(block)) return false;
  if (!checksumMatches(block)) return false;
  return NUMERIC_FIELDS.every(([, off, len]) => parseNumeric(block, off, len) !== undefined);
}

export function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

const NUMERIC_FIELDS = [
  ['mode', 100, 8],
  ['uid', 108, 8],
  ['gid', 116, 8],
  ['size', 124, 12],
  ['mtime', 136, 12],
] as const;

/**
 * Decodes one header block. `offset` (where the block is in the archive)
 * only goes into error messages. Throws TarError 'corrupt' for a bad
 * checksum or a number that does not parse.
 */
export function decodeHeaderBlock(block: Uint8Array, offset: number): HeaderBlock {
  if (!checksumMatches(block)) throw new TarError('corrupt', `bad header checksum at offset ${offset}`, offset);
  const num = (field: string, off: number, len: number): number => {
    const n = parseNumeric(block, off, len);
    if (n === undefined) throw new TarError('corrupt', `bad ${field} field in the header at offset ${offset}`, offset);
    return n;
  };
  const format = blockFormat(block);
  let name = cstring(block, 0, NAME_SIZE);
  if (format === 'ustar' || format === 'star') {
    const prefix = cstring(block, 345, format === 'star' ? 131 : PREFIX_SIZE);
    if (prefix !== '') name = `${prefix}/${name}`;
  }
  const hasOwners = format !== 'v7';
  return {
    format,
    typeflag: String.fromCharCode(block[156] ?? 0),
    name,
    linkname: cstring(block, 157, NAME_SIZE),
    mode: num('mode', 100, 8),
    uid: num('uid', 108, 8),
    gid: num('gid', 116, 8),
    size: num('size', 124, 12),
    mtime: num('mtime', 136, 12),
    uname: hasOwners ? cstring(block, 265, OWNER_NAME_SIZE) : '',
    gname: hasOwners ? cstring(block, 297, OWNER_NAME_SIZE) : '',
    // Devices numbers are only read where they matter; a garbage field elsewhere is no reason to fail.
    devmajor: hasOwners ? (parseNumeric(block, 329, 8) ?? 0) : 0,
    devminor: hasOwners ? (parseNumeric(block, 337, 8) ?? 0) : 0,
  };
}

function blockFormat(block: Uint8Array): BlockFormat {
  const magic = latin1(block, 257, 6);
  if (magic === 'ustar\0') return latin1(block, 508, 4) === 'tar\0' ? 'star' : 'ustar';
  if (magic === 'ustar ' && latin1(block, 263, 2) === ' \0') return 'gnu';
  return 'v7';
}

/** The checksum field against the byte sum with the field as spaces, unsigned or signed (old Sun tar). */
function checksumMatches(block: Uint8Array): boolean {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
    unsigned += b;
    signed += b >= 0x80 ? b - 0x100 : b;
  }
  const want = parseNumeric(block, 148, 8);
  return want !== undefined && (want === unsigned || want === signed);
}

/**
 * A numeric field: octal text padded with spaces or NULs, or GNU/star
 * base-256 (high bit set; two's complement when the next bit is set too).
 * undefined when malformed or beyond 2^53.
 */
export function parseNumeric(block: Uint8Array, off: number, len: number): number | undefined {
  const first = block[off] ?? 0;
  if ((first & 0x80) !== 0) {
    const inv = (first & 0x40) !== 0 ? 0xff : 0;
    let x = 0n;
    for (let i = 0; i < len; i++) {
      let c = (block[off + i] ?? 0) ^ inv;
      if (i === 0) c &= 0x7f;
      x = (x << 8n) | BigInt(c);
    }
    const n = inv === 0xff ? -(x + 1n) : x;
    return n > BigInt(Number.MAX_SAFE_INTEGER) || n < BigInt(Number.MIN_SAFE_INTEGER) ? undefined : Number(n);
  }
  let start = off;
  const end = off + len;
  while (start < end && (block[start] === 0x20 || block[start] === 0)) start++;
  let stop = start;
  while (stop < end && block[stop] !== 0) stop++;
  while (stop > start && block[stop - 1] === 0x20) stop--;
  if (stop === start) return 0;
  let n = 0;
  for (let i = start; i < stop; i++) {
    const c = (block[i] ?? 0) - 0x30;
    if (c < 0 || c > 7) return undefined;
    n = n * 8 + c;
  }
  return Number.isSafeInteger(n) ? n : undefined;
}

/** A NUL-terminated field as UTF-8 (names that are not valid UTF-8 are decoded lossily). */
export function cstring(buf: Uint8Array, off: number, len: number): string {
  let end = off;
  while (end < off + len && buf[end] !== 0) end++;
  return Buffer.from(buf.buffer, buf.byteOffset + off, end - off).toString('utf8');
}

function latin1(buf: Uint8Array, off: number, len: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + off, len).toString('latin1');
}

/**
 * PAX records (`"<len> <key>=<value>\n"`...) in order, values as bytes
 * (xattr values are binary). Strict, as Go is: a malformed record makes
 * the archive corrupt rather than silently dropping what follows.
 */
export function decodePaxRecords(data: Buffer, offset: number): Array<[string, Buffer]> {
  const out: Array<[string, Buffer]> = [];
  const bad = (why: string): TarError => new TarError('corrupt', `bad PAX record at offset ${offset}: ${why}`, offset);
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space === -1 || space - pos > 20) throw bad('no length');
    const lenText = data.toString('latin1', pos, space);
    if (!/^[0-9]+$/.test(lenText)) throw bad(`length ${JSON.stringify(lenText)}`);
    const len = Number(lenText);
    if (len < 5 || pos + len > data.length) throw bad(`length ${len} past the end of the header`);
    if (data[pos + len - 1] !== 0x0a) throw bad('no newline at the end of a record');
    const record = data.subarray(space + 1, pos + len - 1);
    const eq = record.indexOf(0x3d);
    if (eq <= 0) throw bad('no key');
    out.push([record.toString('utf8', 0, eq), record.subarray(eq + 1)]);
    pos += len;
  }
  return out;
}
