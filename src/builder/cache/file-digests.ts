/**
 * Content digests of context files, hashed again only when a file's stat
 * changed: a record per absolute path of (dev, ino, size, mtime, ctime in
 * nanoseconds) and the digest, kept in one JSON file under the cache dir
 * between builds.
 *
 * A record is trusted only when the file's mtime and ctime are older than
 * the moment it was made by more than the clock's granularity (git's
 * "racily clean" rule): a file written in the same instant as it was hashed
 * could change again without its stat changing.
 */
import { createReadStream, lstatSync, readFileSync, type BigIntStats } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Digest } from '../../oci/digest.js';
import { writeFileAtomic } from '../../oci/atomic-file.js';

const FORMAT = 'hoist.cache.file-digests/v1';
/** Nanoseconds within which a change may not show in mtime (coarse filesystems tick in jiffies or seconds). */
const RACY_NS = 2_000_000_000n;
/** Read in one synchronous call (page-cache speed) rather than streamed. */
const SMALL_FILE = 256n * 1024n;

interface StatRecord {
  dev: string;
  ino: string;
  size: string;
  mtimeNs: string;
  ctimeNs: string;
  /** When the digest was taken, in ns since the epoch. */
  takenNs: string;
  digest: Digest;
}

interface StoredFile {
  format: string;
  records: Record<string, StatRecord>;
}

export interface FileDigestCounts {
  /** Digests taken from a record. */
  reused: number;
  /** Files read and hashed. */
  hashed: number;
}

export class FileDigests {
  readonly counts: FileDigestCounts = { reused: 0, hashed: 0 };
  private dirty = false;

  private constructor(
    private readonly file: string | undefined,
    private readonly records: Map<string, StatRecord>,
    private readonly now: () => bigint,
  ) {}

  /** Records from `file` (none when it is missing, unreadable or of another format); `undefined` keeps them in memory only. */
  static async load(file: string | undefined, now: () => bigint = () => BigInt(Date.now()) * 1_000_000n): Promise<FileDigests> {
    const records = new Map<string, StatRecord>();
    if (file !== undefined) {
      // Synchronous: the promise API reads it in several thread-pool round trips with nothing else to do meanwhile.
      let text: string | undefined;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        text = undefined;
      }
      const stored = text === undefined ? undefined : parseStored(text);
      if (stored !== undefined) for (const [p, r] of Object.entries(stored.records)) records.set(p, r);
    }
    return new FileDigests(file, records, now);
  }

  /** The SHA-256 of the regular file at `absPath`. */
  async digest(absPath: string): Promise<Digest> {
    // Synchronous: most calls end here, and a stat takes microseconds where a thread-pool round trip takes several times that.
    const before = lstatSync(absPath, { bigint: true });
    const known = this.records.get(absPath);
    if (known !== undefined && sameStat(known, before) && !racy(known, before)) {
      this.counts.reused++;
      return known.digest;
    }
    const takenNs = this.now();
    const hash = createHash('sha256');
    // A stream per small file costs more than the read: thousands of small context files are the common case.
    if (before.size <= SMALL_FILE) hash.update(readFileSync(absPath));
    else await pipeline(createReadStream(absPath, { highWaterMark: 1 << 20 }), hash);
    const digest: Digest = `sha256:${hash.digest('hex')}`;
    this.counts.hashed++;
    const after = lstatSync(absPath, { bigint: true });
    // Changed while it was read: use the digest for this build, remember nothing.
    if (!sameStat(statRecord(before, takenNs, digest), after)) {
      this.records.delete(absPath);
    } else {
      this.records.set(absPath, statRecord(after, takenNs, digest));
    }
    this.dirty = true;
    return digest;
  }

  /** Write the records back (through a temp file and a rename), keeping only paths that still exist. */
  async save(): Promise<void> {
    if (this.file === undefined || !this.dirty) return;
    const records: Record<string, StatRecord> = {};
    for (const [p, r] of this.records) records[p] = r;
    await mkdir(path.dirname(this.file), { recursive: true });
    await writeFileAtomic(this.file, Buffer.from(JSON.stringify({ format: FORMAT, records } satisfies StoredFile)));
    this.dirty = false;
  }
}

type BigStats = BigIntStats;

function statRecord(st: BigStats, takenNs: bigint, digest: Digest): StatRecord {
  return {
    dev: String(st.dev),
    ino: String(st.ino),
    size: String(st.size),
    mtimeNs: String(st.mtimeNs),
    ctimeNs: String(st.ctimeNs),
    takenNs: String(takenNs),
    digest,
  };
}

function sameStat(r: StatRecord, st: BigStats): boolean {
  return r.dev === String(st.dev) && r.ino === String(st.ino) && r.size === String(st.size) && r.mtimeNs === String(st.mtimeNs) && r.ctimeNs === String(st.ctimeNs);
}

function racy(r: StatRecord, st: BigStats): boolean {
  const taken = BigInt(r.takenNs);
  return st.mtimeNs + RACY_NS >= taken || st.ctimeNs + RACY_NS >= taken;
}

function parseStored(text: string): StoredFile | undefined {
  try {
    const v = JSON.parse(text) as Partial<StoredFile>;
    if (v.format !== FORMAT || typeof v.records !== 'object' || v.records === null) return undefined;
    return v as StoredFile;
  } catch {
    return undefined;
  }
}
