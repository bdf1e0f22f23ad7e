/**
 * Random access into a tar file without extracting it: one pass over the
 * headers (skipping content with positioned reads) records where each
 * member's bytes are, then members are streamed straight from the file.
 * Headers are read by src/tar (ustar, GNU long names, PAX, base-256
 * sizes); this index resolves symlinks and hardlinks between members
 * (Docker 25+ archives link `<id>/layer.tar` to `blobs/sha256/<hex>`).
 */
import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { HoistError } from '../errors.js';
import { isTarError, readTarFile, type TarEntryType } from '../tar/index.js';
import { readBounded } from './read-bounded.js';

export interface TarMember {
  name: string;
  type: 'file' | 'link' | 'symlink' | 'directory' | 'other';
  /** Byte offset of the content in the tar file. */
  offset: number;
  size: number;
  linkname?: string;
}

const MAX_LINK_HOPS = 16;

/**
 * `./a//b/` -> `a/b`. Paths are resolved as if the archive were the root,
 * so `..` cannot climb out of it. Undefined for the root itself.
 */
export function normalizeMemberName(name: string): string | undefined {
  const n = posix.normalize(`/${name}`).slice(1).replace(/\/+$/, '');
  return n === '' ? undefined : n;
}

function memberType(type: TarEntryType): TarMember['type'] {
  switch (type) {
    case 'file':
    case 'link':
    case 'symlink':
      return type;
    case 'dir':
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

/** One pass over the headers; member content is skipped, never read. */
async function scan(handle: FileHandle, file: string): Promise<Map<string, TarMember>> {
  const members = new Map<string, TarMember>();
  try {
    for await (const { header, offset } of readTarFile(handle)) {
      const key = normalizeMemberName(header.name);
      if (key === undefined) continue;
      const type = memberType(header.type);
      const m: TarMember = { name: key, type, offset, size: type === 'file' ? header.size : 0 };
      if (type === 'link' || type === 'symlink') m.linkname = header.linkname;
      members.set(key, m);
    }
  } catch (err) {
    if (!isTarError(err)) throw err;
    throw new HoistError('BAD_ARCHIVE', `${file} is not a valid tar archive: ${err.message}`, {
      hint: 'a compressed archive must be decompressed first (e.g. gunzip)',
      cause: err,
    });
  }
  return members;
}
