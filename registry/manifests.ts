/**
 * Manifest GET, HEAD and PUT. Manifests are small and read whole, refusing
 * more than 4 MiB (the limit distribution and most registries apply); the
 * digest is computed over the exact bytes, and checked when the reference
 * pins one. Docker schema 1 manifests are refused with a clear error.
 */
import {
  digestAlgorithm,
  hasherFor,
  isDigest,
  isSchema1MediaType,
  MediaType,
  sha256Digest,
  type Descriptor,
  type Digest,
  type Reference,
} from '../src/oci/index.js';
import { pullScope, pushScope } from './auth.js';
import { parseOciErrors, readErrorBody, RegistryError, statusError } from './errors.js';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RegistryHttp } from './registry-http.js';
import { header, readDocument, type HttpResponse, discardBody } from './transport.js';

export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** What hoist asks for by default: indexes and image manifests, OCI and Docker. */
export const DEFAULT_MANIFEST_ACCEPT: readonly string[] = Object.freeze([
  MediaType.OciIndex,
  MediaType.DockerManifestList,
  MediaType.OciManifest,
  MediaType.DockerManifest,
]);

export interface FetchedManifest {
  /** The exact bytes served. */
  raw: Buffer;
  mediaType: string;
  /** Digest of `raw` (in the reference's algorithm when pulled by digest, else sha256). */
  digest: Digest;
}

/** The digest of `raw` in the algorithm `ref` pins, else sha256. */
function digestFor(ref: Reference, raw: Buffer): Digest {
  return ref.digest === undefined ? sha256Digest(raw) : (`${digestAlgorithm(ref.digest)}:${hasherFor(ref.digest).update(raw).digest('hex')}` as Digest);
}

function manifestPath(ref: Reference, identifier: string = ref.identifier()): string {
  return `/v2/${ref.path}/manifests/${identifier}`;
}

function bareMediaType(contentType: string | undefined): string | undefined {
  const mt = contentType?.split(';')[0]?.trim().toLowerCase();
  return mt === undefined || mt === '' ? undefined : mt;
}

function tooLarge(what: string, size: number | string): RegistryError {
  return new RegistryError('MANIFEST_TOO_LARGE', `${what}: the manifest is ${size} bytes, more than the ${MAX_MANIFEST_BYTES} hoist accepts`, {
    hint: 'a manifest this large is almost certainly not an image manifest',
  });
}

function schema1(what: string): RegistryError {
  return new RegistryError('UNSUPPORTED_MANIFEST', `${what}: this is a Docker schema 1 manifest, which hoist does not support`, {
    hint: 'schema 1 is deprecated; push the image again with a current Docker, skopeo or hoist (schema 2 / OCI)',
  });
}

async function readManifestBody(res: HttpResponse, what: string): Promise<Buffer> {
  const length = Number(header(res.headers, 'content-length') ?? NaN);
  if (Number.isFinite(length) && length > MAX_MANIFEST_BYTES) {
    res.body.destroy();
    throw tooLarge(what, length);
  }
  return readDocument(res, { what, registry: res.url.host }, MAX_MANIFEST_BYTES, () => tooLarge(what, `over ${MAX_MANIFEST_BYTES}`));
}

/** The media type of manifest bytes: their `mediaType`, else a specific Content-Type, else their shape. */
export function manifestMediaType(raw: Buffer, contentType: string | undefined): string | undefined {
  let doc: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(raw.toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) doc = parsed as Record<string, unknown>;
  } catch {
    doc = undefined;
  }
  if (doc?.schemaVersion === 1) return MediaType.DockerManifestSchema1;
  if (typeof doc?.mediaType === 'string' && doc.mediaType !== '') return doc.mediaType;
  const ct = bareMediaType(contentType);
  if (ct !== undefined && ct !== 'application/json' && ct !== 'application/octet-stream' && ct !== 'text/plain') return ct;
  if (doc === undefined) return undefined;
  return Array.isArray(doc.manifests) ? MediaType.OciIndex : MediaType.OciManifest;
}

export async function getManifest(
  http: RegistryHttp,
  ref: Reference,
  accept: readonly string[],
  signal?: AbortSignal,
): Promise<FetchedManifest> {
  const what = `GET manifest ${ref.string()}`;
  const res = await http.request(
    ref.domain,
    {
      method: 'GET',
      target: manifestPath(ref),
      scopes: [pullScope(ref.path)],
      headers: { accept: accept.join(', ') },
      ...(signal ? { signal } : {}),
    },
    what,
  );
  if (res.status !== 200) throw statusError(what, ref.domain, res.status, await readErrorBody(res.body));
  const raw = await readManifestBody(res, what);
  const contentType = header(res.headers, 'content-type');
  if (isSchema1MediaType(bareMediaType(contentType) ?? '')) throw schema1(what);
  const mediaType = manifestMediaType(raw, contentType);
  if (mediaType === undefined) throw new RegistryError('REGISTRY_PROTOCOL', `${what}: the registry sent something that is not a manifest`);
  if (isSchema1MediaType(mediaType)) throw schema1(what);
  const digest = digestFor(ref, raw);
  if (ref.digest !== undefined && digest !== ref.digest) {
    throw new RegistryError('DIGEST_MISMATCH', `${what}: the registry sent a manifest with digest ${digest}`, {
      hint: 'the registry or something between it and you altered the content',
    });
  }
  return { raw, mediaType, digest };
}

/** A manifest's descriptor without its body, or undefined when the registry does not have it. */
export async function headManifest(
  http: RegistryHttp,
  ref: Reference,
  accept: readonly string[],
  signal?: AbortSignal,
): Promise<Descriptor | undefined> {
  const what = `HEAD manifest ${ref.string()}`;
  const res = await http.request(
    ref.domain,
    {
      method: 'HEAD',
      target: manifestPath(ref),
      scopes: [pullScope(ref.path)],
      headers: { accept: accept.join(', ') },
      ...(signal ? { signal } : {}),
    },
    what,
  );
  await discardBody(res);
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw statusError(what, ref.domain, res.status);
  const digest = header(res.headers, 'docker-content-digest');
  const size = Number(header(res.headers, 'content-length') ?? NaN);
  const mediaType = bareMediaType(header(res.headers, 'content-type'));
  if (digest === undefined || !isDigest(digest) || !Number.isSafeInteger(size) || mediaType === undefined) {
    // Not every registry answers HEAD fully: fall back to the body.
    const m = await getManifest(http, ref, accept, signal);
    return { mediaType: m.mediaType, digest: m.digest, size: m.raw.length };
  }
  if (isSchema1MediaType(mediaType)) throw schema1(what);
  if (ref.digest !== undefined && digest !== ref.digest) {
    throw new RegistryError('DIGEST_MISMATCH', `${what}: the registry reports digest ${digest}`);
  }
  return { mediaType, digest, size };
}

/** PUT a manifest under the reference's tag (or digest). Returns the manifest's digest. */
export async function putManifest(
  http: RegistryHttp,
  ref: Reference,
  raw: Buffer,
  mediaType: string,
  signal?: AbortSignal,
): Promise<Digest> {
  const what = `PUT manifest ${ref.string()}`;
  if (raw.length > MAX_MANIFEST_BYTES) throw tooLarge(what, raw.length);
  const digest = digestFor(ref, raw);
  if (ref.digest !== undefined && digest !== ref.digest) {
    throw new RegistryError('DIGEST_MISMATCH', `${what}: the manifest has digest ${digest}, not the one the reference names`);
  }
  for (let attempt = 0; ; attempt++) {
    const res = await http.request(
      ref.domain,
      {
        method: 'PUT',
        target: manifestPath(ref, ref.tag ?? digest),
        scopes: [pushScope(ref.path)],
        headers: { 'content-type': mediaType },
        body: raw,
        ...(signal ? { signal } : {}),
      },
      what,
    );
    if (res.status === 201 || res.status === 200 || res.status === 202) {
      await discardBody(res);
      return digest;
    }
    const body = await readErrorBody(res.body);
    // The caller pushed every blob the manifest names just before. One can still look unknown for a moment while
    // another client pushes the same blob to the repository (the registry's filesystem driver rewrites the
    // repository's link to it in place: builders sharing a cache repository, CI jobs pushing the same base layers).
    if (res.status === 400 && attempt < BLOB_UNKNOWN_RETRIES && parseOciErrors(body).some((e) => e.code === 'MANIFEST_BLOB_UNKNOWN')) {
      await sleep(100 * 3 ** attempt, undefined, signal === undefined ? undefined : { signal });
      continue;
    }
    throw statusError(what, ref.domain, res.status, body);
  }
}

/** Retries of a manifest PUT that names a blob the registry says it lacks (100, 300, 900 ms apart). */
const BLOB_UNKNOWN_RETRIES = 3;
