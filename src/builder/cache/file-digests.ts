/**
 * Content digests of context files, hashed again only when a file's stat
 * changed: a record per absolute path of (dev, ino, size, mtime, ctime in
 * nanoseconds), the digest and the file's carried xattrs, kept in one JSON
 * file under the cache dir between builds. The context walk takes a file's
 * xattrs from its record too (no llistxattr): setting or removing one moves
 * the file's ctime, so the record no longer matches. Directories and
 * symlinks have records of their xattrs alone.
 *
 * A record is trusted only when the file's mtime and ctime are older than
 * the moment it was made by more than the clock's granularity (git's
 * "racily clean" rule): a file written in the same instant as it was hashed
 * could change again without its stat changing. That moment is taken no
 * later than the first read of what the record holds: before the walk's
 * lstat when the walk gives its stat and xattrs.
 *
 * The file (v2) is text: the format, `xattr-reader<TAB>` and who read the
 * xattrs, then a line per record, its path as a JSON string and its fields
 * separated by tabs (see formatLine). A line is parsed only when its path
 * is looked up: JSON.parse of the whole file and its thousand objects was
 * a fair part of a no-op rebuild. The v1 file (JSON, no xattrs) is read.
 */
import { createReadStream, lstatSync, readFileSync, realpathSync, type BigIntStats } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import type { Digest } from '../../oci/digest.js';
import { writeFileAtomic } from '../../oci/atomic-file.js';
import { xattrsBase64, type Xattrs } from '../../../snapshot/layer-entry.js';

const FORMAT = 'hoist.cache.file-digests/v2';
/** The format before xattrs were kept: its records are read as v2 records whose xattrs are unknown. */
const FORMAT_V1 = 'hoist.cache.file-digests/v1';
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
  /** Absent for a directory or a symlink: only its xattrs are kept. */
  digest?: Digest;
  /** The carried xattrs (snapshot/xattrs.ts), values in base64, {} for none; absent when not known. */
  xattrs?: Record<string, string>;
}

/** The v1 file. */
interface StoredFile {
  format: string;
  records: Record<string, StatRecord>;
}

const READER_PREFIX = 'xattr-reader\t';

/** What the context walk saw of an entry (a regular file, a directory, a symlink): FileDigests takes its stat and records its xattrs. */
export interface WalkedFile {
  /** The file's lstat when the walk reached it. */
  stat: BigIntStats;
  /** A moment no later than that lstat, in ns since the epoch on the system clock (Date.now). */
  sinceNs: bigint;
  /** The carried xattrs the walk gave the file (read after `stat`, or from its record); undefined when none. */
  xattrs: Xattrs | undefined;
}

/** A file's xattrs as its record knows them. */
export interface KnownXattrs {
  xattrs: Xattrs | undefined;
}

export interface FileDigestCounts {
  /** Digests taken from a record. */
  reused: number;
  /** Files read and hashed. */
  hashed: number;
}

/** What `save` may drop: records under the build's context. */
export interface SaveOptions {
  /** The build's context directory (absolute). */
  context?: string;
  /** The context is removed after the build (an unpacked archive, a clone): none of its paths comes back. */
  transientContext?: boolean;
}

export class FileDigests {
  readonly counts: FileDigestCounts = { reused: 0, hashed: 0 };
  private dirty = false;
  /** Paths looked up in this build. */
  private readonly seen = new Set<string>();

  private constructor(
    private readonly file: string | undefined,
    /** A record, or its line as stored, parsed on first use. */
    private readonly records: Map<string, StatRecord | string>,
    private readonly now: () => bigint,
    private readonly reader: string,
  ) {}

  /**
   * Records from `file` (none when it is missing, unreadable or of another
   * format); `undefined` keeps them in memory only. Xattrs recorded by
   * another reader (`xattrReader`) are forgotten: what it could list may
   * not be what this process can.
   */
  static async load(file: string | undefined, now: () => bigint = () => BigInt(Date.now()) * 1_000_000n, reader: string = xattrReader()): Promise<FileDigests> {
    const records = new Map<string, StatRecord | string>();
    if (file !== undefined) {
      // Synchronous: the promise API reads it in several thread-pool round trips with nothing else to do meanwhile.
      let text: string | undefined;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        text = undefined;
      }
      if (text?.startsWith('{')) {
        for (const [p, r] of Object.entries(parseV1(text)?.records ?? {})) {
          if (!isRecord(r) || r.digest === undefined) continue;
          delete r.xattrs;
          records.set(p, r);
        }
      } else if (text?.startsWith(`${FORMAT}\n${READER_PREFIX}`)) {
        const lines = text.split('\n');
        const sameReader = lines[1] === READER_PREFIX + reader;
        for (let i = 2; i < lines.length; i++) {
          const line = lines[i] as string;
          const p = pathOfLine(line);
          if (p === undefined) continue;
          if (sameReader) {
            records.set(p, line);
            continue;
          }
          // Another reader's xattrs are dropped now: a line kept as it is would be saved under this reader.
          const r = parseLine(line);
          if (r?.digest === undefined) continue;
          delete r.xattrs;
          records.set(p, r);
        }
      }
    }
    return new FileDigests(file, records, now, reader);
  }

  private record(absPath: string): StatRecord | undefined {
    this.seen.add(absPath);
    const r = this.records.get(absPath);
    if (typeof r !== 'string') return r;
    const parsed = parseLine(r);
    if (parsed === undefined) this.records.delete(absPath);
    else this.records.set(absPath, parsed);
    return parsed;
  }

  /**
   * The xattrs recorded for `absPath` (with its digest, for a file), when its record holds
   * for `stat` (the same dev, ino, size, mtime and ctime, not racy);
   * undefined when they are not known.
   */
  recordedXattrs(absPath: string, stat: BigIntStats): KnownXattrs | undefined {
    const known = this.record(absPath);
    if (known?.xattrs === undefined || !sameStat(known, stat) || racy(known, stat)) return undefined;
    return { xattrs: decodeXattrs(known.xattrs) };
  }

  /**
   * When a record is made, on this clock: now without `walked`, else when
   * the walk started (`sinceNs` is on the system clock: the walk is as long
   * before now() as it is before the system clock's now).
   */
  private takenAt(walked: WalkedFile | undefined): bigint {
    const now = this.now();
    if (walked === undefined) return now;
    const age = BigInt(Date.now()) * 1_000_000n - walked.sinceNs;
    return age > 0n ? now - age : now;
  }

  /**
   * Records the xattrs the walk read of the directory or symlink at
   * `absPath` (a regular file's are recorded with its digest). Their
   * record is dated no later than the walk's lstat, which came before the
   * read: if it changed between the two, its ctime moved and the record
   * never matches.
   */
  recordXattrs(absPath: string, walked: WalkedFile): void {
    this.seen.add(absPath);
    this.records.set(absPath, statRecord(walked.stat, this.takenAt(walked), undefined, xattrsBase64(walked.xattrs)));
    this.dirty = true;
  }

  /**
   * The SHA-256 of the regular file at `absPath`. With `walked` (what the
   * context walk saw of it), its stat is the one compared with the record,
   * and its xattrs are recorded with the digest.
   */
  async digest(absPath: string, walked?: WalkedFile): Promise<Digest> {
    // Synchronous: most calls end here, and a stat takes microseconds where a thread-pool round trip takes several times that.
    const before = walked?.stat ?? lstatSync(absPath, { bigint: true });
    const known = this.record(absPath);
    if (known?.digest !== undefined && sameStat(known, before) && !racy(known, before)) {
      this.counts.reused++;
      // A record from before xattrs were kept: the walk read them after this stat, which the record still holds for.
      if (known.xattrs === undefined && walked !== undefined) {
        known.xattrs = xattrsBase64(walked.xattrs);
        this.dirty = true;
      }
      return known.digest;
    }
    // Dated no later than the walk's lstat: its xattrs were read after it, and before this moment.
    const takenNs = this.takenAt(walked);
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
      this.records.set(absPath, statRecord(after, takenNs, digest, walked !== undefined ? xattrsBase64(walked.xattrs) : undefined));
    }
    this.dirty = true;
    return digest;
  }

  /**
   * Write the records back (through a temp file and a rename), when this
   * build changed them. Records of the context's paths that are gone are
   * dropped then: of a transient context all of them, else those not looked
   * up in this build whose path no longer exists (a lstat each: there are
   * few where the build hashed most of its context), and any kept under a
   * relative path by an older hoist. Records of other contexts are kept as
   * they are.
   */
  async save(opts: SaveOptions = {}): Promise<void> {
    if (this.file === undefined || !this.dirty) return;
    // The context walk names files under the context's real path (source-fs.ts).
    if (opts.context !== undefined) this.dropGone(realPathOf(opts.context), opts.transientContext === true);
    const lines = [FORMAT, READER_PREFIX + this.reader];
    for (const [p, r] of this.records) lines.push(typeof r === 'string' ? r : formatLine(p, r));
    await mkdir(path.dirname(this.file), { recursive: true });
    await writeFileAtomic(this.file, Buffer.from(`${lines.join('\n')}\n`));
    this.dirty = false;
  }

  private dropGone(context: string, transient: boolean): void {
    const prefix = context.endsWith('/') ? context : `${context}/`;
    for (const p of [...this.records.keys()]) {
      // Relative to whatever directory a build ran in, before records were kept under the context's real path.
      if (!path.isAbsolute(p)) this.records.delete(p);
      else if (p !== context && !p.startsWith(prefix)) continue;
      else if (transient || (!this.seen.has(p) && !exists(p))) this.records.delete(p);
    }
  }
}

function realPathOf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

function exists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // Only what is certainly gone: an unreadable parent keeps its records.
    return code !== 'ENOENT' && code !== 'ENOTDIR';
  }
}

type BigStats = BigIntStats;

function statRecord(st: BigStats, takenNs: bigint, digest: Digest | undefined, xattrs?: Record<string, string>): StatRecord {
  return {
    dev: String(st.dev),
    ino: String(st.ino),
    size: String(st.size),
    mtimeNs: String(st.mtimeNs),
    ctimeNs: String(st.ctimeNs),
    takenNs: String(takenNs),
    ...(digest !== undefined ? { digest } : {}),
    ...(xattrs !== undefined ? { xattrs } : {}),
  };
}

/** As the walk reads them (snapshot/xattrs.ts): undefined for none, Buffers in name order. */
function decodeXattrs(encoded: Record<string, string>): Xattrs | undefined {
  let out: Record<string, Buffer> | undefined;
  for (const name of Object.keys(encoded).sort()) (out ??= {})[name] = Buffer.from(encoded[name] as string, 'base64');
  return out;
}

function isEncodedXattrs(v: unknown): v is Record<string, string> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string');
}

/** A record racy() can read (the rest is compared as strings: a damaged field only fails to match). */
function isRecord(r: unknown): r is StatRecord {
  if (typeof r !== 'object' || r === null) return false;
  const { takenNs, digest } = r as Record<string, unknown>;
  return typeof takenNs === 'string' && /^\d+$/.test(takenNs) && (digest === undefined || (typeof digest === 'string' && /^sha256:[0-9a-f]{64}$/.test(digest)));
}

/**
 * Who lists the xattrs, as far as it decides what llistxattr shows:
 * `trusted.*` only to a process with CAP_SYS_ADMIN in the host's user
 * namespace. The effective capabilities and the user namespace's uid map
 * (Linux; '' where /proc has neither).
 */
export function xattrReader(): string {
  const read = (file: string): string => {
    try {
      return readFileSync(file, 'latin1');
    } catch {
      return '';
    }
  };
  const capEff = /^CapEff:\s*(\S+)/m.exec(read('/proc/self/status'))?.[1] ?? '';
  return `${capEff} ${read('/proc/self/uid_map').trim().replace(/\s+/g, ' ')}`;
}

function sameStat(r: StatRecord, st: BigStats): boolean {
  return r.dev === String(st.dev) && r.ino === String(st.ino) && r.size === String(st.size) && r.mtimeNs === String(st.mtimeNs) && r.ctimeNs === String(st.ctimeNs);
}

function racy(r: StatRecord, st: BigStats): boolean {
  const taken = BigInt(r.takenNs);
  return st.mtimeNs + RACY_NS >= taken || st.ctimeNs + RACY_NS >= taken;
}

function parseV1(text: string): StoredFile | undefined {
  try {
    const v = JSON.parse(text) as Partial<StoredFile>;
    if (v.format !== FORMAT_V1 || typeof v.records !== 'object' || v.records === null) return undefined;
    return v as StoredFile;
  } catch {
    return undefined;
  }
}

/**
 * A v2 record line: the path as a JSON string (which holds no tab or
 * newline), then dev, ino, size, mtimeNs, ctimeNs, takenNs, the digest
 * ('-' for none) and the xattrs as JSON ('-' when not known), tab-separated.
 */
function formatLine(p: string, r: StatRecord): string {
  return [JSON.stringify(p), r.dev, r.ino, r.size, r.mtimeNs, r.ctimeNs, r.takenNs, r.digest ?? '-', r.xattrs !== undefined ? JSON.stringify(r.xattrs) : '-'].join('\t');
}

/** The path a record line is for; undefined for a damaged line. */
function pathOfLine(line: string): string | undefined {
  const tab = line.indexOf('\t');
  if (tab < 2 || line.charCodeAt(0) !== 0x22 || line.charCodeAt(tab - 1) !== 0x22) return undefined;
  const literal = line.slice(0, tab);
  // Without escapes, the string is what the quotes hold.
  if (!literal.includes('\\')) return literal.slice(1, -1);
  try {
    const p: unknown = JSON.parse(literal);
    return typeof p === 'string' ? p : undefined;
  } catch {
    return undefined;
  }
}

/** A record line's fields; undefined for a damaged line (it then serves nothing). */
function parseLine(line: string): StatRecord | undefined {
  const f = line.split('\t');
  if (f.length !== 9) return undefined;
  const [, dev, ino, size, mtimeNs, ctimeNs, takenNs, digest, xattrsText] = f as [string, string, string, string, string, string, string, string, string];
  let xattrs: Record<string, string> | undefined;
  if (xattrsText === '{}') xattrs = {};
  else if (xattrsText !== '-') {
    try {
      const v: unknown = JSON.parse(xattrsText);
      if (isEncodedXattrs(v)) xattrs = v;
    } catch {
      xattrs = undefined;
    }
  }
  const r: StatRecord = { dev, ino, size, mtimeNs, ctimeNs, takenNs, ...(digest !== '-' ? { digest: digest as Digest } : {}), ...(xattrs !== undefined ? { xattrs } : {}) };
  return isRecord(r) && (r.digest !== undefined || r.xattrs !== undefined) ? r : undefined;
}
