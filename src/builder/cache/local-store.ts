/**
 * The local step cache: one small JSON record per step key under
 * `<cache dir>/steps/`, naming the layer the step produced (its blobs live
 * in the blob store beside it). A record whose blob is gone (pruned) is a
 * miss. Records are written through a temp file and a rename, so a reader
 * sees a whole record or none, and two builders writing the same key leave
 * one whole record (they wrote the same thing).
 *
 * A record of another format, or one that does not parse, is a miss: a
 * later hoist never misreads an older cache and never fails on it.
 */
import { readFileSync, utimesSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../oci/atomic-file.js';
import { digestHex, isDigest, type Digest } from '../../oci/digest.js';
import { withFileLock } from '../../oci/file-lock.js';
import type { Layer } from '../../oci/index.js';

/** The format of a step record, on disk and in a registry cache artifact. */
export const STEP_RECORD_FORMAT = 'hoist.cache.step-record/v1';
const FORMAT = STEP_RECORD_FORMAT;

export interface CachedLayer {
  digest: Digest;
  diffId: Digest;
  size: number;
  mediaType: string;
}

export interface StepRecord {
  /** The layer the step made; undefined when it changed no file (a history entry with empty_layer). */
  layer?: CachedLayer;
  /** RFC 3339 time the step ran (the image's history keeps it, as BuildKit's cache does). */
  created: string;
  /** The history's created_by: every input of it is part of the key. */
  createdBy: string;
  /** RFC 3339 time the entry was recorded (what --cache-ttl ages); `created` where absent (SOURCE_DATE_EPOCH sets `created` to then). */
  stored?: string;
}

export interface BlobPresence {
  has(d: Digest): Promise<boolean>;
  /** Bytes on disk: a record whose layer blob has another size (truncated by a crash or by hand) is a miss, not a build that fails on it later. */
  size?(d: Digest): Promise<number>;
}

/**
 * Where step results are looked up and recorded. The local cache is one; a
 * registry-backed one (`--cache-repo`) can stand beside it behind the same
 * two calls.
 */
export interface StepCacheStore {
  get(key: Digest): Promise<StepRecord | undefined>;
  put(key: Digest, record: StepRecord): Promise<void>;
  /** The layer a record names; a store whose records may name blobs not yet local fetches them when read. Default: from the blob store. */
  layerOf?(layer: CachedLayer): Layer | undefined;
  /** Wait for what `put` left running (a registry upload); before the image is written, so its push can mount what the cache holds. */
  flush?(): Promise<void>;
  /** A cache registry stands behind the store (`--cache-repo`, `--cache-from`, `--cache-to`): a push mounts its layers from there. */
  readonly hasRegistry?: boolean;
  /**
   * After a try of the build failed: whether a hit restored in it proved
   * unusable when its layer was read (the registry lost the blob, or it is
   * not what the record says). That entry is a miss from now on, so the
   * build is tried again instead of failing.
   */
  retry?(): boolean;
  /**
   * Run `fn` as the only builder working on `key` (several builds on one
   * cache dir): a second builder waits, then finds the first one's record.
   */
  exclusive<T>(key: Digest, fn: () => Promise<T>, signal?: AbortSignal): Promise<T>;
}

function readOrUndefined(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** A builder may hold a key for as long as its step runs: a RUN can take long. */
const KEY_LOCK_WAIT_MS = 6 * 60 * 60 * 1000;

export class LocalStepCache implements StepCacheStore {
  readonly dir: string;

  constructor(
    cacheRoot: string,
    private readonly blobs: BlobPresence,
  ) {
    this.dir = path.join(cacheRoot, 'steps');
  }

  private file(key: Digest): string {
    const hex = digestHex(key);
    return path.join(this.dir, hex.slice(0, 2), `${hex}.json`);
  }

  /** The record for `key`, if there is a usable one. A hit marks the record used now (prune keeps what is used). */
  async get(key: Digest): Promise<StepRecord | undefined> {
    const file = this.file(key);
    // Synchronous, as the context's stats are: a record is a few hundred bytes, and the promise API's
    // readFile is four thread-pool round trips (open, fstat, read, close), one step after another.
    const text = readOrUndefined(file);
    if (text === undefined) return undefined;
    const record = parseRecord(text);
    if (record === undefined) return undefined;
    if (record.layer !== undefined && !(await this.holds(record.layer))) return undefined;
    const now = new Date();
    try {
      utimesSync(file, now, now);
    } catch {
      // Only prune's order depends on it.
    }
    return record;
  }

  /** Whether the store has the layer's blob, at its size (one stat). */
  private async holds(layer: { digest: Digest; size: number }): Promise<boolean> {
    if (this.blobs.size === undefined) return this.blobs.has(layer.digest);
    return (await this.blobs.size(layer.digest).catch(() => -1)) === layer.size;
  }

  async put(key: Digest, record: StepRecord): Promise<void> {
    const file = this.file(key);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFileAtomic(file, Buffer.from(JSON.stringify({ format: FORMAT, ...record })));
  }

  async exclusive<T>(key: Digest, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const file = this.file(key);
    await mkdir(path.dirname(file), { recursive: true });
    return withFileLock(`${file}.lock`, `the build cache entry ${key}`, fn, { waitMs: KEY_LOCK_WAIT_MS, signal });
  }
}

/** A record of this format, or undefined (another format, or not one at all). */
export function parseRecord(text: string): StepRecord | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (o.format !== FORMAT || typeof o.created !== 'string' || typeof o.createdBy !== 'string') return undefined;
  const base: StepRecord = { created: o.created, createdBy: o.createdBy, ...(typeof o.stored === 'string' ? { stored: o.stored } : {}) };
  if (o.layer === undefined) return base;
  const l = o.layer as Record<string, unknown> | null;
  if (typeof l !== 'object' || l === null) return undefined;
  if (typeof l.digest !== 'string' || !isDigest(l.digest) || typeof l.diffId !== 'string' || !isDigest(l.diffId)) return undefined;
  if (typeof l.size !== 'number' || !Number.isSafeInteger(l.size) || l.size < 0 || typeof l.mediaType !== 'string') return undefined;
  return { ...base, layer: { digest: l.digest, diffId: l.diffId, size: l.size, mediaType: l.mediaType } };
}

/** The file under the cache dir where context file digests are kept between builds. */
export const FILE_DIGESTS_FILE = 'context-digests.json';
