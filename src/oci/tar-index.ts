/**
 * Random access into a tar file without extracting it: one pass over the
 * headers (skipping content with positioned reads) records where each
 * member's bytes are, then members are streamed straight from the file.
 * Understands ustar, GNU long names and PAX headers, base-256 sizes, and
 * resolves symlinks and hardlinks between members (Docker 25+ archives
 * link `<id>/layer.tar` to `blobs/sha256/<hex>`).
 */
import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { HoistError } from '../errors.js';
import { readBounded } from './read-bounded.js';

export interface TarMember {
  name: string;
  type: 'file' | 'link' | 'symlink' | 'directory' | 'other';
  /** Byte offset of the content in the tar file. */
  offset: number;
  size: number;
  linkname?: string;
}

const BLOCK = 512;
/** Longest PAX or GNU long-name record we read into memory. */
const MAX_META = 1024 * 1024;
const MAX_LINK_HOPS = 16;

/**
 * `./a//b/` -> `a/b`. Paths are resolved as if the archive were the root,
 * so `..` cannot climb out of it. Undefined for the root itself.
 */
export function normalizeMemberName(name: string): string | undefined {
  const n = posix.normalize(`/${name}`).slice(1).replace(/\/+$/, '');
  return n === '' ? undefined : n;
}

function cstring(buf: Buffer, off: number, len: number): string {
  const end = buf.indexOf(0, off);
  return buf.toString('utf8', off, end === -1 || end > off + len ? off + len : end);
}

function numeric(buf: Buffer, off: number, len: number): number {
  if ((buf[off] ?? 0) & 0x80) {
    let n = (buf[off] ?? 0) & 0x7f;
    for (let i = off + 1; i < off + len; i++) n = n * 256 + (buf[i] ?? 0);
    return n;
  }
  const text = cstring(buf, off, len).trim();
  return text === '' ? 0 : parseInt(text, 8);
}

function checksumOk(block: Buffer): boolean {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : (block[i] ?? 0);
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  const want = numeric(block, 148, 8);
  return want === unsigned || want === signed;
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space === -1) break;
    const len = parseInt(data.toString('ascii', pos, space), 10);
    if (!Number.isSafeInteger(len) || len <= 0) break;
    const record = data.toString('utf8', space + 1, pos + len - 1);
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    pos += len;
  }
  return out;
}

function typeOf(flag: number): TarMember['type'] {
  switch (String.fromCharCode(flag)) {
    case '\0':
    case '0':
    case '7':
      return 'file';
    case '1':
      return 'link';
    case '2':
      return 'symlink';
    case '5':
      return 'directory';
    default:
      return 'other';
  }
}

export class TarIndex {
  private constructor(
    readonly file: string,
    private readonly members: ReadonlyMap<string, TarMember>,
  ) {}

  static async load(file: string): Promise<TarIndex> {
    const handle = await open(file, 'r');
    try {
      return new TarIndex(file, await scan(handle, file));
    } finally {
      await handle.close();
    }
  }

  names(): string[] {
    return [...this.members.keys()];
  }

  /** The regular-file member `name` refers to, following links; undefined if none. */
  get(name: string): TarMember | undefined {
    let key = normalizeMemberName(name);
    for (let hops = 0; key !== undefined && hops <= MAX_LINK_HOPS; hops++) {
      const m = this.members.get(key);
      if (m === undefined) return undefined;
      if (m.type === 'file') return m;
      if (m.type === 'link') key = normalizeMemberName(m.linkname ?? '');
      else if (m.type === 'symlink') {
        const target = m.linkname ?? '';
        key = normalizeMemberName(target.startsWith('/') ? target : posix.join(posix.dirname(m.name), target));
      } else return undefined;
    }
    return undefined;
  }

  /** Stream a member's content; HoistError ARCHIVE_MEMBER_MISSING if absent. */
  open(name: string): Readable {
    const m = this.require(name);
    if (m.size === 0) return Readable.from([]);
    return createReadStream(this.file, { start: m.offset, end: m.offset + m.size - 1 });
  }

  /** The first `n` bytes of a member (fewer if it is shorter). */
  async head(name: string, n: number): Promise<Buffer> {
    const m = this.require(name);
    const buf = Buffer.alloc(Math.min(n, m.size));
    if (buf.length === 0) return buf;
    const handle = await open(this.file, 'r');
    try {
      const { bytesRead } = await handle.read(buf, 0, buf.length, m.offset);
      return buf.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }

  async readFile(name: string): Promise<Buffer> {
    return readBounded(this.open(name), `${name} in ${this.file}`);
  }

  require(name: string): TarMember {
    const m = this.get(name);
    if (m === undefined) {
      throw new HoistError('ARCHIVE_MEMBER_MISSING', `${this.file} has no file ${JSON.stringify(name)}`);
    }
    return m;
  }
}

async function scan(handle: FileHandle, file: string): Promise<Map<string, TarMember>> {
  const { size: fileSize } = await handle.stat();
  const members = new Map<string, TarMember>();
  const block = Buffer.alloc(BLOCK);
  const bad = (why: string): HoistError =>
    new HoistError('BAD_ARCHIVE', `${file} is not a valid tar archive: ${why}`, {
      hint: 'a compressed archive must be decompressed first (e.g. gunzip)',
    });
  const readMeta = async (offset: number, size: number): Promise<Buffer> => {
    if (size > MAX_META) throw bad(`metadata record of ${size} bytes at offset ${offset}`);
    const buf = Buffer.alloc(size);
    await handle.read(buf, 0, size, offset);
    return buf;
  };

  let pos = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax: Record<string, string> = {};
  let globalPax: Record<string, string> = {};
  while (pos + BLOCK <= fileSize) {
    const { bytesRead } = await handle.read(block, 0, BLOCK, pos);
    if (bytesRead < BLOCK) throw bad(`truncated header at offset ${pos}`);
    if (block.every((b) => b === 0)) break;
    if (!checksumOk(block)) throw bad(`bad header checksum at offset ${pos}`);
    const flag = block[156] ?? 0;
    let size = numeric(block, 124, 12);
    const data = pos + BLOCK;
    const flagChar = String.fromCharCode(flag);
    if (flagChar === 'L') longName = cstring(await readMeta(data, size), 0, size);
    else if (flagChar === 'K') longLink = cstring(await readMeta(data, size), 0, size);
    else if (flagChar === 'x') pax = parsePax(await readMeta(data, size));
    else if (flagChar === 'g') globalPax = { ...globalPax, ...parsePax(await readMeta(data, size)) };
    else {
      const attrs = { ...globalPax, ...pax };
      let name = cstring(block, 0, 100);
      const magic = block.toString('ascii', 257, 263);
      const prefix = magic === 'ustar\0' ? cstring(block, 345, 155) : '';
      if (prefix !== '') name = `${prefix}/${name}`;
      name = attrs.path ?? longName ?? name;
      const linkname = attrs.linkpath ?? longLink ?? cstring(block, 157, 100);
      if (attrs.size !== undefined) size = parseInt(attrs.size, 10);
      const type = typeOf(flag);
      const key = normalizeMemberName(name);
      if (key !== undefined) {
        const m: TarMember = { name: key, type, offset: data, size: type === 'file' ? size : 0 };
        if (type === 'link' || type === 'symlink') m.linkname = linkname;
        members.set(key, m);
      }
      longName = undefined;
      longLink = undefined;
      pax = {};
      if (type === 'link' || type === 'symlink' || type === 'directory') size = 0;
    }
    if (!Number.isSafeInteger(size) || size < 0) throw bad(`bad size at offset ${pos}`);
    if (data + size > fileSize) throw bad(`member at offset ${data} runs past the end of the file`);
    pos = data + Math.ceil(size / BLOCK) * BLOCK;
  }
  return members;
}
