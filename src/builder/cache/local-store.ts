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
import { mkdir, readFile, utimes } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../../oci/atomic-file.js';
import { digestHex, isDigest, type Digest } from '../../oci/digest.js';

const FORMAT = 'hoist.cache.step-record/v1';

export interface CachedLayer {
  digest: Digest;
  diffId: Digest;
  size: number;
  mediaType: string;
}

export interface StepRecord {
  /** The layer the step made; undefined when it changed no file. */
  layer?: CachedLayer;
  /** RFC 3339 time the step ran (the image's history keeps it, as BuildKit's cache does). */
  created: string;
}

export interface BlobPresence {
  has(d: Digest): Promise<boolean>;
}

export class LocalStepCache {
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
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text === undefined) return undefined;
    const record = parseRecord(text);
    if (record === undefined) return undefined;
    if (record.layer !== undefined && !(await this.blobs.has(record.layer.digest))) return undefined;
    const now = new Date();
    await utimes(file, now, now).catch(() => undefined);
    return record;
  }

  async put(key: Digest, record: StepRecord): Promise<void> {
    const file = this.file(key);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFileAtomic(file, Buffer.from(JSON.stringify({ format: FORMAT, ...record })));
  }
}

function parseRecord(text: string): StepRecord | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (o.format !== FORMAT || typeof o.created !== 'string') return undefined;
  if (o.layer === undefined) return { created: o.created };
  const l = o.layer as Record<string, unknown> | null;
  if (typeof l !== 'object' || l === null) return undefined;
  if (typeof l.digest !== 'string' || !isDigest(l.digest) || typeof l.diffId !== 'string' || !isDigest(l.diffId)) return undefined;
  if (typeof l.size !== 'number' || !Number.isSafeInteger(l.size) || l.size < 0 || typeof l.mediaType !== 'string') return undefined;
  return { created: o.created, layer: { digest: l.digest, diffId: l.diffId, size: l.size, mediaType: l.mediaType } };
}
