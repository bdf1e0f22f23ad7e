/**
 * One tar header, encoded (decode.ts reads them). Every tar hoist writes is
 * made of these: a POSIX ustar block, preceded by a PAX extended header
 * (typeflag `x`) when a value does not fit ustar. Pure and deterministic: the same header always gives the same bytes, which is
 * what keeps layer digests stable. PAX is used for: paths that are
 * non-ASCII or cannot be split into prefix (155) + name (100); link names
 * that are non-ASCII or longer than 100 bytes; uid/gid above 0o7777777;
 * sizes above 0o77777777777 (8 GiB); mtimes outside 0..0o77777777777;
 * uname/gname that are non-ASCII or longer than 32 bytes; every xattr
 * (`SCHILY.xattr.<name>`); and records a caller passes through. Records are
 * written in a fixed order (path, linkpath, uid, gid, size, mtime, uname,
 * gname, xattrs by name bytes, passed-through records by key).
 */
import { TarError } from './error.js';

export const BLOCK = 512;

/** The member types hoist writes. */
export type TarType = 'file' | 'link' | 'symlink' | 'char-device' | 'block-device' | 'dir' | 'fifo';

/** A header to write. */
export interface TarHeader {
  /** The tar name: normalised, directories ending in `/`. */
  name: string;
  type: TarType;
  mode: number;
  uid: number;
  gid: number;
  /** Content bytes; 0 for everything but `file`. */
  size: number;
  /** Integer seconds. */
  mtime: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Left empty in layers, so that a layer depends on numbers, not on the builder's /etc/passwd. */
  uname?: string;
  gname?: string;
  /** Written as `SCHILY.xattr.<name>` PAX records; values are bytes (or UTF-8 text). */
  xattrs?: Readonly<Record<string, Uint8Array | string>>;
  /** Other PAX records to carry over verbatim (e.g. `GNU.sparse.*` when re-packing members). */
  pax?: Readonly<Record<string, string>>;
}

const TYPEFLAG: Record<TarType, string> = {
  file: '0',
  link: '1',
  symlink: '2',
  'char-device': '3',
  'block-device': '4',
  dir: '5',
  fifo: '6',
};

const NAME_SIZE = 100;
const PREFIX_SIZE = 155;
const OWNER_NAME_SIZE = 32;
const MAX_ID = 0o7777777;
const MAX_SIZE = 0o77777777777;
const MAX_TIME = 0o77777777777;

/** PAX keys the encoder derives from header fields; passed-through records may not set them. */
const DERIVED_PAX_KEYS = new Set(['path', 'linkpath', 'uid', 'gid', 'size', 'mtime', 'uname', 'gname', 'atime', 'ctime']);

/** The header block(s) for one entry: 512 bytes, or 512 + PAX data padded + 512. */
export function encodeHeader(h: TarHeader): Buffer {
  checkHeader(h);
  const pax: Array<[string, string | Uint8Array]> = [];

  const split = splitUstarName(h.name);
  if (split === null) pax.push(['path', h.name]);
  const link = h.linkname ?? '';
  const linkFits = isAscii(link) && Buffer.byteLength(link) <= NAME_SIZE;
  if (!linkFits) pax.push(['linkpath', link]);
  if (h.uid > MAX_ID) pax.push(['uid', String(h.uid)]);
  if (h.gid > MAX_ID) pax.push(['gid', String(h.gid)]);
  if (h.size > MAX_SIZE) pax.push(['size', String(h.size)]);
  if (h.mtime < 0 || h.mtime > MAX_TIME) pax.push(['mtime', String(h.mtime)]);
  const uname = h.uname ?? '';
  const gname = h.gname ?? '';
  const unameFits = fitsOwnerName(uname);
  const gnameFits = fitsOwnerName(gname);
  if (!unameFits) pax.push(['uname', uname]);
  if (!gnameFits) pax.push(['gname', gname]);
  if (h.xattrs) {
    const names = Object.keys(h.xattrs).sort(byBytes);
    for (const name of names) pax.push([`SCHILY.xattr.${name}`, h.xattrs[name] ?? '']);
  }
  if (h.pax) {
    const keys = Object.keys(h.pax)
      .filter((k) => !DERIVED_PAX_KEYS.has(k) && !k.startsWith('SCHILY.xattr.'))
      .sort(byBytes);
    for (const key of keys) pax.push([key, h.pax[key] ?? '']);
  }

  const block = Buffer.alloc(BLOCK);
  if (split) {
    block.write(split.name, 0, NAME_SIZE, 'utf8');
    block.write(split.prefix, 345, PREFIX_SIZE, 'utf8');
  } else {
    // Readers take the name from the PAX record; this is what a reader that
    // ignores PAX would see, cut at 100 bytes as Go's archive/tar does.
    Buffer.from(h.name, 'utf8').copy(block, 0, 0, NAME_SIZE);
  }
  writeOctal(block, 100, 8, h.mode & 0o7777);
  writeOctal(block, 108, 8, Math.min(h.uid, MAX_ID));
  writeOctal(block, 116, 8, Math.min(h.gid, MAX_ID));
  if (h.size > MAX_SIZE) writeBase256(block, 124, 12, h.size);
  else writeOctal(block, 124, 12, h.size);
  writeOctal(block, 136, 12, Math.min(Math.max(h.mtime, 0), MAX_TIME));
  block.write(TYPEFLAG[h.type], 156, 1, 'ascii');
  if (linkFits) block.write(link, 157, NAME_SIZE, 'ascii');
  else Buffer.from(link, 'utf8').copy(block, 157, 0, NAME_SIZE);
  block.write('ustar\x0000', 257, 8, 'latin1');
  if (unameFits) block.write(uname, 265, OWNER_NAME_SIZE, 'ascii');
  if (gnameFits) block.write(gname, 297, OWNER_NAME_SIZE, 'ascii');
  writeOctal(block, 329, 8, h.devmajor ?? 0);
  writeOctal(block, 337, 8, h.devminor ?? 0);
  writeChecksum(block);

  if (pax.length === 0) return block;
  const records = encodePaxRecords(pax);
  const paxHeader = Buffer.alloc(BLOCK);
  paxHeaderName(h.name).copy(paxHeader, 0);
  writeOctal(paxHeader, 100, 8, 0o644);
  writeOctal(paxHeader, 108, 8, 0);
  writeOctal(paxHeader, 116, 8, 0);
  writeOctal(paxHeader, 124, 12, records.length);
  writeOctal(paxHeader, 136, 12, 0);
  paxHeader.write('x', 156, 1, 'ascii');
  paxHeader.write('ustar\x0000', 257, 8, 'latin1');
  writeOctal(paxHeader, 329, 8, 0);
  writeOctal(paxHeader, 337, 8, 0);
  writeChecksum(paxHeader);
  return Buffer.concat([paxHeader, records, Buffer.alloc(paddingFor(records.length)), block]);
}

/** Zero bytes that follow `size` content bytes to fill the last block. */
export function paddingFor(size: number): number {
  const rest = size % BLOCK;
  return rest === 0 ? 0 : BLOCK - rest;
}

/** Two zero blocks end an archive. */
export const END_OF_ARCHIVE: Buffer = Buffer.alloc(2 * BLOCK);

function checkHeader(h: TarHeader): void {
  const fields: Array<[string, number]> = [
    ['uid', h.uid],
    ['gid', h.gid],
    ['size', h.size],
    ['mode', h.mode],
  ];
  for (const [field, value] of fields) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new TarError('field-range', `${h.name}: ${field} ${value} is not a non-negative integer`);
    }
  }
  if (!Number.isSafeInteger(h.mtime)) {
    throw new TarError('field-range', `${h.name}: mtime ${h.mtime} is not an integer`);
  }
  for (const [field, value] of [['devmajor', h.devmajor ?? 0], ['devminor', h.devminor ?? 0]] as const) {
    if (!Number.isSafeInteger(value) || value < 0 || value > MAX_ID) {
      throw new TarError('field-range', `${h.name}: ${field} ${value} does not fit a tar header`);
    }
  }
}

/**
 * ustar keeps a path as prefix (155 bytes) + `/` + name (100 bytes). Like Go's
 * archive/tar, prefer the longest prefix, never split at a directory's
 * trailing slash, and only for ASCII paths (a non-ASCII path goes to PAX,
 * which is defined as UTF-8). null: needs PAX.
 */
export function splitUstarName(name: string): { prefix: string; name: string } | null {
  if (!isAscii(name)) return null;
  if (name.length <= NAME_SIZE) return { prefix: '', name };
  let limit = name.length;
  if (limit > PREFIX_SIZE + 1) limit = PREFIX_SIZE + 1;
  else if (name[limit - 1] === '/') limit--;
  const i = name.lastIndexOf('/', limit - 1);
  const nameLen = name.length - i - 1;
  if (i <= 0 || nameLen === 0 || nameLen > NAME_SIZE || i > PREFIX_SIZE) return null;
  return { prefix: name.slice(0, i), name: name.slice(i + 1) };
}

/** `<dir>/PaxHeaders.0/<base>` as Go writes it: deterministic, unlike GNU tar's pid-based name. */
function paxHeaderName(name: string): Buffer {
  const trimmed = name.endsWith('/') ? name.slice(0, -1) : name;
  const slash = trimmed.lastIndexOf('/');
  const dir = slash === -1 ? '' : trimmed.slice(0, slash + 1);
  const full = Buffer.from(`${dir}PaxHeaders.0/${trimmed.slice(slash + 1)}`, 'utf8');
  return full.subarray(0, NAME_SIZE);
}

/** `"<len> <key>=<value>\n"`, where len counts the whole record including its own digits. */
export function encodePaxRecords(records: ReadonlyArray<readonly [string, string | Uint8Array]>): Buffer {
  const parts: Buffer[] = [];
  for (const [key, value] of records) {
    const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), toBytes(value), Buffer.from('\n')]);
    let len = body.length + String(body.length).length;
    if (String(len).length !== String(body.length).length) len = body.length + String(len).length;
    parts.push(Buffer.from(String(len), 'ascii'), body);
  }
  return Buffer.concat(parts);
}

function toBytes(value: string | Uint8Array): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** Zero-padded octal digits filling the field but its last byte, which stays NUL. */
function writeOctal(block: Buffer, offset: number, size: number, value: number): void {
  block.write(value.toString(8).padStart(size - 1, '0'), offset, size - 1, 'ascii');
}

/** GNU/star base-256 for sizes past 8 GiB, so readers that skip PAX still find the next header. */
function writeBase256(block: Buffer, offset: number, size: number, value: number): void {
  let v = BigInt(value);
  for (let i = offset + size - 1; i > offset; i--) {
    block[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  block[offset] = 0x80;
}

function writeChecksum(block: Buffer): void {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += block[i] ?? 0;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
}

function fitsOwnerName(s: string): boolean {
  return isAscii(s) && s.length <= OWNER_NAME_SIZE;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

function byBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
