/** Writing small tar archives with exact headers (owners, modes, links, PAX records) for test contexts. */
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';

export interface TarEntrySpec {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  mode: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  content?: string;
  linkname?: string;
  /** PAX records, e.g. SCHILY.xattr.user.a. */
  pax?: Record<string, string>;
}

export async function writeTar(file: string, entries: readonly TarEntrySpec[]): Promise<void> {
  const pack = tar.pack();
  const done = pipeline(pack, createWriteStream(file, { mode: 0o644 }));
  for (const e of entries) {
    const type = e.type ?? 'file';
    const header = {
      name: e.name,
      type,
      mode: e.mode,
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: e.mtime ?? new Date(1_600_000_000_000),
      ...(e.linkname !== undefined ? { linkname: e.linkname } : {}),
      ...(e.pax !== undefined ? { pax: e.pax } : {}),
    };
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null): void => (err ? reject(err) : resolve());
      if (type === 'file') pack.entry(header, e.content ?? '', cb);
      else pack.entry(header, cb);
    });
  }
  pack.finalize();
  await done;
}
