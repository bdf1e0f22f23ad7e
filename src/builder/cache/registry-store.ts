/**
 * The registry cache (`--cache-repo`): one step result per tag of one
 * repository, as a small OCI artifact that builders on other machines find
 * by the step's key:
 *
 *   tag       hoist-<hex of the step key>          (70 chars of [a-f0-9-])
 *   manifest  application/vnd.oci.image.manifest.v1+json
 *             artifactType  application/vnd.hoist.cache.step.v1+json
 *             config        the step record (JSON, the same record the local
 *                           cache keeps, plus `key`: the step key it is for),
 *                           media type = the artifactType
 *             layers        [the step's layer, as it is in the image] or []
 *             annotations   org.opencontainers.image.created = when stored
 *                           dev.hoist.cache.record = the record again, so
 *                           that a lookup is one request
 *
 * An entry counts only under the tag of the key its record names: a tag
 * copied or moved to another key (a mirroring tool, `crane tag` by hand)
 * would otherwise serve one step's result for another.
 *
 * The layer blob is the very blob of the image, so a push of the image to
 * the same registry mounts it from here (the client remembers which
 * repository holds it) instead of uploading it again. A record holds no
 * credential: only what the image's history shows, digests and times.
 */
import { Readable } from 'node:stream';
import { readBounded } from '../../oci/read-bounded.js';
import { digestHex, sha256Digest, type Digest } from '../../oci/digest.js';
import type { Descriptor, Reference } from '../../oci/index.js';
import type { RegistryClient } from '../../../registry/client.js';
import { RegistryError } from '../../../registry/errors.js';
import { parseRecord, STEP_RECORD_FORMAT, type StepRecord } from './local-store.js';

export const STEP_ARTIFACT_TYPE = 'application/vnd.hoist.cache.step.v1+json';
/** The manifest annotation that repeats the record (the config blob's bytes). */
export const RECORD_ANNOTATION = 'dev.hoist.cache.record';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
/** A record is a few hundred bytes; anything much larger is not one. */
const MAX_RECORD_BYTES = 64 * 1024;

/** The tag a step's entry is stored under. */
export function cacheTag(key: Digest): string {
  return `hoist-${digestHex(key)}`;
}

/** An entry found in the cache repository: its record, and the layer's descriptor as the manifest lists it. */
export interface RegistryEntry {
  record: StepRecord;
  layer?: Descriptor;
}

export class RegistryStepStore {
  constructor(
    private readonly client: RegistryClient,
    /** The cache repository (a tag or digest on it is ignored). */
    readonly repo: Reference,
  ) {}

  /** The entry under `key`'s tag; undefined when there is none or it is not one of ours. Throws when the registry fails. */
  async get(key: Digest, signal?: AbortSignal): Promise<RegistryEntry | undefined> {
    const ref = this.repo.repository().withTag(cacheTag(key));
    let raw: Buffer;
    try {
      raw = (await this.client.getManifest(ref, [OCI_MANIFEST], signal ? { signal } : {})).raw;
    } catch (err) {
      if (err instanceof RegistryError && err.code === 'REGISTRY_NOT_FOUND') return undefined;
      throw err;
    }
    const manifest = parseManifest(raw);
    if (manifest === undefined) return undefined;
    // The record rides in an annotation too: a hit costs one request. The config blob is the same record, for readers without it.
    const text = manifest.recordText ?? (await readAll(await this.client.fetchBlob(this.repo, manifest.config, signal ? { signal } : {}))).toString('utf8');
    const record = recordKey(text) === key ? parseRecord(text) : undefined;
    if (record === undefined) return undefined;
    const layer = manifest.layers[0];
    if (record.layer === undefined) return manifest.layers.length === 0 ? { record } : undefined;
    if (layer === undefined || layer.digest !== record.layer.digest || layer.size !== record.layer.size) return undefined;
    return { record, layer };
  }

  /** Whether the repository has an entry under `key`'s tag (a HEAD). */
  async has(key: Digest, signal?: AbortSignal): Promise<boolean> {
    return (await this.client.headManifest(this.repo.repository().withTag(cacheTag(key)), [OCI_MANIFEST], signal ? { signal } : {})) !== undefined;
  }

  /** A layer an entry names, as it downloads (verified against `desc`: digest and size). */
  openBlob(desc: Descriptor, signal?: AbortSignal): Promise<Readable> {
    return this.client.fetchBlob(this.repo, desc, signal ? { signal } : {});
  }

  /** Store `record` under `key`'s tag; the layer blob is read with `openLayer` only if the repository lacks it. */
  async put(key: Digest, record: StepRecord, openLayer: () => Promise<Readable>, signal?: AbortSignal): Promise<void> {
    const opts = signal ? { signal } : {};
    const configRaw = Buffer.from(JSON.stringify({ format: STEP_RECORD_FORMAT, key, ...record }));
    const config: Descriptor = { mediaType: STEP_ARTIFACT_TYPE, digest: sha256Digest(configRaw), size: configRaw.length };
    const layers: Descriptor[] = record.layer === undefined ? [] : [{ mediaType: record.layer.mediaType, digest: record.layer.digest, size: record.layer.size }];
    await Promise.all([
      this.client.pushBlob(this.repo, config, async () => Readable.from([configRaw]), opts),
      ...layers.map((layer) => this.client.pushBlob(this.repo, layer, openLayer, opts)),
    ]);
    const manifest = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: STEP_ARTIFACT_TYPE,
      config,
      layers,
      annotations: { 'org.opencontainers.image.created': record.stored ?? record.created, [RECORD_ANNOTATION]: configRaw.toString('utf8') },
    };
    await this.client.putManifest(this.repo.repository().withTag(cacheTag(key)), Buffer.from(JSON.stringify(manifest)), OCI_MANIFEST, opts);
  }
}

function parseManifest(raw: Buffer): { config: Descriptor; layers: Descriptor[]; recordText?: string } | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
  const m = doc as { artifactType?: unknown; config?: Partial<Descriptor>; layers?: unknown; annotations?: Record<string, unknown> };
  if (m.artifactType !== STEP_ARTIFACT_TYPE || m.config?.mediaType !== STEP_ARTIFACT_TYPE || !Array.isArray(m.layers)) return undefined;
  const config = m.config as Descriptor;
  if (typeof config.digest !== 'string' || typeof config.size !== 'number' || config.size > MAX_RECORD_BYTES) return undefined;
  const recordText = m.annotations?.[RECORD_ANNOTATION];
  // The inline copy counts only if it is the config blob, byte for byte (its digest): else the blob is read.
  const inline = typeof recordText === 'string' && sha256Digest(Buffer.from(recordText, 'utf8')) === config.digest;
  return { config, layers: m.layers as Descriptor[], ...(inline ? { recordText } : {}) };
}

/** The step key a record's text names, if any. */
function recordKey(text: string): string | undefined {
  try {
    const v = JSON.parse(text) as { key?: unknown } | null;
    return typeof v?.key === 'string' ? v.key : undefined;
  } catch {
    return undefined;
  }
}

async function readAll(stream: Readable): Promise<Buffer> {
  return readBounded(stream, 'a cache record', MAX_RECORD_BYTES);
}
