/**
 * The OCI image layout's index.json, shared by the layout directory and the
 * OCI archive: which names an entry carries, how new entries merge into an
 * existing index, and how a caller's selector finds an entry.
 *
 * Naming choice: an entry written for reference `r` carries
 *   org.opencontainers.image.ref.name = r.tag        (e.g. "latest")
 *   io.containerd.image.name          = r.string()   (e.g. "docker.io/library/foo:latest")
 * The tag form is what `skopeo copy oci:DIR:TAG` and umoci look up; the
 * full name is what `docker load`/containerd import use. This is what
 * Docker 25+ writes in its own OCI layouts. A digest-only reference gets no
 * ref.name.
 */
import { HoistError } from '../errors.js';
import { digestAlgorithm, digestHex, isDigest, type Digest } from './digest.js';
import { MediaType } from './media-types.js';
import { tryParseReference, type Reference } from './reference.js';
import type { Annotations, Descriptor, Index, Platform } from './types.js';

export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';
export const CONTAINERD_NAME_ANNOTATION = 'io.containerd.image.name';
export const OCI_LAYOUT_FILE = 'oci-layout';
export const INDEX_FILE = 'index.json';
export const OCI_LAYOUT_CONTENT = Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' }));

/** Where a blob lives inside a layout: `blobs/sha256/<hex>`. */
export function layoutBlobPath(d: Digest): string {
  return `blobs/${digestAlgorithm(d)}/${digestHex(d)}`;
}

export function refAnnotations(ref: Reference): Annotations {
  const a: Annotations = { [CONTAINERD_NAME_ANNOTATION]: ref.string() };
  if (ref.tag !== undefined) a[REF_NAME_ANNOTATION] = ref.tag;
  return a;
}

/** index.json entries for one image: one per reference, or one unnamed entry. */
export function indexEntries(manifest: Descriptor, platform: Platform | undefined, refs: readonly Reference[]): Descriptor[] {
  const base: Descriptor = { ...manifest };
  if (platform !== undefined) base.platform = platform;
  if (refs.length === 0) return [base];
  return refs.map((r) => ({ ...base, annotations: refAnnotations(r) }));
}

function refName(d: Descriptor): string | undefined {
  return d.annotations?.[REF_NAME_ANNOTATION];
}

/**
 * Merge new entries into an index: an existing entry with the same ref name
 * (or, unnamed, the same digest) is replaced; other entries are kept in order.
 */
export function mergeIndex(existing: Index | undefined, added: readonly Descriptor[]): Index {
  const names = new Set(added.map(refName).filter((n): n is string => n !== undefined));
  const unnamedDigests = new Set(added.filter((d) => refName(d) === undefined).map((d) => d.digest));
  const kept = (existing?.manifests ?? []).filter((d) => {
    const name = refName(d);
    return name === undefined ? !unnamedDigests.has(d.digest) : !names.has(name);
  });
  const out: Index = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [...kept, ...added] };
  if (existing?.annotations !== undefined) out.annotations = existing.annotations;
  return out;
}

function describe(d: Descriptor): string {
  return refName(d) ?? d.annotations?.[CONTAINERD_NAME_ANNOTATION] ?? d.digest;
}

/** `byTag`: also accept an entry whose ref name is just the reference's tag (how skopeo names them). */
function matchesReference(d: Descriptor, ref: Reference, byTag: boolean): boolean {
  const a = d.annotations ?? {};
  const name = a[REF_NAME_ANNOTATION];
  if (a[CONTAINERD_NAME_ANNOTATION] === ref.string()) return true;
  if (name !== undefined && (name === ref.string() || name === ref.familiarString())) return true;
  if (ref.digest !== undefined) return d.digest === ref.digest;
  return byTag && ref.tag !== undefined && name === ref.tag;
}

/**
 * Find the entry a selector names. A string is a digest, a ref name, a
 * containerd image name, or a reference whose full or familiar form is one
 * of those. A Reference matches by full name, ref name (full or familiar),
 * digest, and failing those by ref name equal to its tag. Without a selector
 * the index must hold exactly one image (one digest, under any number of names).
 */
export function selectIndexEntry(index: Index, selector: Reference | string | undefined, where: string): Descriptor {
  const entries = index.manifests;
  const listing = entries.map(describe).join(', ') || 'nothing';
  if (selector === undefined) {
    // One image under several names (two tags of one digest) is still one image.
    const [only] = entries;
    if (only !== undefined && entries.every((d) => d.digest === only.digest)) return only;
    throw new HoistError('IMAGE_NOT_FOUND', `${where} holds ${entries.length} images (${listing}); say which one`, {
      hint: 'name the image by its ref name, e.g. oci-layout:DIR:latest',
    });
  }
  let found: Descriptor | undefined;
  if (typeof selector === 'string') {
    found = isDigest(selector)
      ? entries.find((d) => d.digest === (selector as Digest))
      : (entries.find((d) => refName(d) === selector) ??
        entries.find((d) => d.annotations?.[CONTAINERD_NAME_ANNOTATION] === selector) ??
        byParsedReference(entries, selector));
  } else {
    found = entries.find((d) => matchesReference(d, selector, false)) ?? entries.find((d) => matchesReference(d, selector, true));
  }
  if (found === undefined) {
    const shown = typeof selector === 'string' ? selector : selector.string();
    throw new HoistError('IMAGE_NOT_FOUND', `${where} has no image named ${JSON.stringify(shown)} (it has: ${listing})`);
  }
  return found;
}

function byParsedReference(entries: readonly Descriptor[], text: string): Descriptor | undefined {
  const ref = tryParseReference(text);
  return ref === undefined ? undefined : entries.find((d) => matchesReference(d, ref, false));
}
