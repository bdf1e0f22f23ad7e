/**
 * Validating parsers for untrusted manifest, index and config JSON. Each
 * returns a value containing only the fields hoist models (unknown fields are
 * dropped; callers that must preserve bytes keep the raw document). Errors
 * are HoistErrors with code BAD_MANIFEST or BAD_CONFIG naming the field.
 */
import { HoistError } from '../errors.js';
import { isDigest, type Digest } from './digest.js';
import { setMapEntry } from './map-entry.js';
import {
  isImageManifestMediaType,
  isIndexMediaType,
  isSchema1MediaType,
  MediaType,
} from './media-types.js';
import type {
  Annotations,
  ConfigFile,
  ContainerConfig,
  Descriptor,
  HealthConfig,
  History,
  Index,
  Manifest,
  ManifestDocument,
  Platform,
} from './types.js';

type Obj = Record<string, unknown>;

/** Reports a problem at a JSON path, e.g. `layers[2].digest`. */
class Checker {
  constructor(
    private readonly code: 'BAD_MANIFEST' | 'BAD_CONFIG',
    private readonly what: string,
  ) {}

  fail(path: string, problem: string): never {
    const where = path === '' ? '' : ` at ${path}`;
    throw new HoistError(this.code, `invalid ${this.what}${where}: ${problem}`);
  }

  /** `parse(v, path)`, or undefined when the field is absent or null. */
  opt<T>(v: unknown, path: string, parse: (v: unknown, path: string) => T): T | undefined {
    return v === undefined || v === null ? undefined : parse(v, path);
  }

  array(v: unknown, path: string): unknown[] {
    if (!Array.isArray(v)) this.fail(path, `expected an array, got ${kindOf(v)}`);
    return v;
  }

  object(v: unknown, path: string): Obj {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(path, `expected an object, got ${kindOf(v)}`);
    return v as Obj;
  }

  string(v: unknown, path: string): string {
    if (typeof v !== 'string') this.fail(path, `expected a string, got ${kindOf(v)}`);
    return v;
  }

  optString(v: unknown, path: string): string | undefined {
    return this.opt(v, path, (s, at) => this.string(s, at));
  }

  optBool(v: unknown, path: string): boolean | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') this.fail(path, `expected a boolean, got ${kindOf(v)}`);
    return v;
  }

  optInt(v: unknown, path: string): number | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) this.fail(path, `expected an integer, got ${kindOf(v)}`);
    return v;
  }

  size(v: unknown, path: string): number {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
      this.fail(path, `expected a non-negative integer size, got ${kindOf(v)}`);
    }
    return v;
  }

  digest(v: unknown, path: string): Digest {
    const s = this.string(v, path);
    if (!isDigest(s)) this.fail(path, `expected a sha256 or sha512 digest, got ${JSON.stringify(s)}`);
    return s;
  }

  optStrings(v: unknown, path: string): string[] | undefined {
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) this.fail(path, `expected an array of strings, got ${kindOf(v)}`);
    return v.map((item, i) => this.string(item, `${path}[${i}]`));
  }

  optStringMap(v: unknown, path: string): Record<string, string> | undefined {
    if (v === undefined || v === null) return undefined;
    const o = this.object(v, path);
    const out: Record<string, string> = {};
    for (const [k, val] of Object.entries(o)) setMapEntry(out, k, this.string(val, `${path}.${k}`));
    return out;
  }

  /** `{"80/tcp": {}}` sets; Docker ignores the values, so do we. */
  optSet(v: unknown, path: string): Record<string, Record<string, never>> | undefined {
    if (v === undefined || v === null) return undefined;
    const o = this.object(v, path);
    const out: Record<string, Record<string, never>> = {};
    for (const k of Object.keys(o)) setMapEntry(out, k, {});
    return out;
  }
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 80 ? `${v.slice(0, 77)}...` : v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return typeof v === 'object' ? 'an object' : typeof v;
}

function parseJson(c: Checker, raw: Buffer | string): unknown {
  try {
    return JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch (err) {
    return c.fail('', `not JSON (${(err as Error).message})`);
  }
}

function dropUndefined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

function platformOf(c: Checker, v: unknown, path: string): Platform {
  const o = c.object(v, path);
  return dropUndefined({
    architecture: c.string(o.architecture, `${path}.architecture`),
    os: c.string(o.os, `${path}.os`),
    'os.version': c.optString(o['os.version'], `${path}["os.version"]`),
    'os.features': c.optStrings(o['os.features'], `${path}["os.features"]`),
    variant: c.optString(o.variant, `${path}.variant`),
    features: c.optStrings(o.features, `${path}.features`),
  });
}

function descriptorOf(c: Checker, v: unknown, path: string): Descriptor {
  const o = c.object(v, path);
  return dropUndefined({
    mediaType: c.string(o.mediaType, `${path}.mediaType`),
    digest: c.digest(o.digest, `${path}.digest`),
    size: c.size(o.size, `${path}.size`),
    urls: c.optStrings(o.urls, `${path}.urls`),
    annotations: c.optStringMap(o.annotations, `${path}.annotations`),
    platform: c.opt(o.platform, `${path}.platform`, (p, at) => platformOf(c, p, at)),
    artifactType: c.optString(o.artifactType, `${path}.artifactType`),
  });
}

function descriptorList(c: Checker, v: unknown, path: string): Descriptor[] {
  return c.array(v, path).map((d, i) => descriptorOf(c, d, `${path}[${i}]`));
}

function schemaVersion(c: Checker, o: Obj): 2 {
  if (o.schemaVersion !== 2) {
    const hint = o.schemaVersion === 1 ? ' (Docker schema 1 manifests are not supported)' : '';
    c.fail('schemaVersion', `expected 2, got ${kindOf(o.schemaVersion)}${hint}`);
  }
  return 2;
}

function manifestFrom(c: Checker, o: Obj): Manifest {
  return dropUndefined({
    schemaVersion: schemaVersion(c, o),
    mediaType: c.optString(o.mediaType, 'mediaType'),
    artifactType: c.optString(o.artifactType, 'artifactType'),
    config: descriptorOf(c, o.config, 'config'),
    layers: descriptorList(c, o.layers, 'layers'),
    subject: c.opt(o.subject, 'subject', (d, at) => descriptorOf(c, d, at)),
    annotations: c.optStringMap(o.annotations, 'annotations') as Annotations | undefined,
  });
}

function indexFrom(c: Checker, o: Obj): Index {
  return dropUndefined({
    schemaVersion: schemaVersion(c, o),
    mediaType: c.optString(o.mediaType, 'mediaType'),
    artifactType: c.optString(o.artifactType, 'artifactType'),
    manifests: descriptorList(c, o.manifests, 'manifests'),
    subject: c.opt(o.subject, 'subject', (d, at) => descriptorOf(c, d, at)),
    annotations: c.optStringMap(o.annotations, 'annotations') as Annotations | undefined,
  });
}

export function parseManifest(raw: Buffer | string): Manifest {
  const c: Checker = new Checker('BAD_MANIFEST', 'image manifest');
  const o = c.object(parseJson(c, raw), '');
  if (typeof o.mediaType === 'string' && isIndexMediaType(o.mediaType)) {
    c.fail('mediaType', `expected an image manifest, got an index (${o.mediaType})`);
  }
  return manifestFrom(c, o);
}

export function parseIndex(raw: Buffer | string): Index {
  const c: Checker = new Checker('BAD_MANIFEST', 'image index');
  const o = c.object(parseJson(c, raw), '');
  if (typeof o.mediaType === 'string' && isImageManifestMediaType(o.mediaType)) {
    c.fail('mediaType', `expected an index, got an image manifest (${o.mediaType})`);
  }
  return indexFrom(c, o);
}

/**
 * Parse a document that may be a manifest or an index. The media type comes
 * from the document, else from `contentType` (a registry's Content-Type or a
 * descriptor), else from its shape (`manifests` vs `layers`).
 */
export function parseManifestDocument(raw: Buffer | string, contentType?: string): ManifestDocument {
  const c: Checker = new Checker('BAD_MANIFEST', 'manifest');
  const o = c.object(parseJson(c, raw), '');
  const declared = c.optString(o.mediaType, 'mediaType') ?? contentType;
  if (declared !== undefined && isSchema1MediaType(declared)) {
    c.fail('mediaType', `Docker schema 1 manifests (${declared}) are not supported`);
  }
  const isIndex =
    declared !== undefined && (isIndexMediaType(declared) || isImageManifestMediaType(declared))
      ? isIndexMediaType(declared)
      : Array.isArray(o.manifests) && o.config === undefined;
  if (isIndex) {
    const index = indexFrom(c, o);
    return { kind: 'index', mediaType: index.mediaType ?? declared ?? MediaType.OciIndex, index };
  }
  const manifest = manifestFrom(c, o);
  return { kind: 'manifest', mediaType: manifest.mediaType ?? declared ?? MediaType.OciManifest, manifest };
}

function healthOf(c: Checker, v: unknown, path: string): HealthConfig {
  const o = c.object(v, path);
  return dropUndefined({
    Test: c.optStrings(o.Test, `${path}.Test`),
    Interval: c.optInt(o.Interval, `${path}.Interval`),
    Timeout: c.optInt(o.Timeout, `${path}.Timeout`),
    StartPeriod: c.optInt(o.StartPeriod, `${path}.StartPeriod`),
    StartInterval: c.optInt(o.StartInterval, `${path}.StartInterval`),
    Retries: c.optInt(o.Retries, `${path}.Retries`),
  });
}

function containerConfigOf(c: Checker, v: unknown, path: string): ContainerConfig {
  const o = c.object(v, path);
  return dropUndefined({
    User: c.optString(o.User, `${path}.User`),
    ExposedPorts: c.optSet(o.ExposedPorts, `${path}.ExposedPorts`),
    Env: c.optStrings(o.Env, `${path}.Env`),
    Entrypoint: c.optStrings(o.Entrypoint, `${path}.Entrypoint`),
    Cmd: c.optStrings(o.Cmd, `${path}.Cmd`),
    Volumes: c.optSet(o.Volumes, `${path}.Volumes`),
    WorkingDir: c.optString(o.WorkingDir, `${path}.WorkingDir`),
    Labels: c.optStringMap(o.Labels, `${path}.Labels`),
    StopSignal: c.optString(o.StopSignal, `${path}.StopSignal`),
    Healthcheck: c.opt(o.Healthcheck, `${path}.Healthcheck`, (h, at) => healthOf(c, h, at)),
    OnBuild: c.optStrings(o.OnBuild, `${path}.OnBuild`),
    Shell: c.optStrings(o.Shell, `${path}.Shell`),
    ArgsEscaped: c.optBool(o.ArgsEscaped, `${path}.ArgsEscaped`),
  });
}

function historyOf(c: Checker, v: unknown, path: string): History[] {
  return c.array(v, path).map((h, i) => {
    const p = `${path}[${i}]`;
    const o = c.object(h, p);
    return dropUndefined({
      created: c.optString(o.created, `${p}.created`),
      created_by: c.optString(o.created_by, `${p}.created_by`),
      author: c.optString(o.author, `${p}.author`),
      comment: c.optString(o.comment, `${p}.comment`),
      empty_layer: c.optBool(o.empty_layer, `${p}.empty_layer`),
    });
  });
}

export function parseConfigFile(raw: Buffer | string): ConfigFile {
  const c: Checker = new Checker('BAD_CONFIG', 'image config');
  const o = c.object(parseJson(c, raw), '');
  const rootfs = c.object(o.rootfs, 'rootfs');
  if (rootfs.type !== 'layers') c.fail('rootfs.type', `expected "layers", got ${kindOf(rootfs.type)}`);
  const diffIds = c.array(rootfs.diff_ids ?? [], 'rootfs.diff_ids');
  return dropUndefined({
    created: c.optString(o.created, 'created'),
    author: c.optString(o.author, 'author'),
    architecture: c.string(o.architecture, 'architecture'),
    os: c.string(o.os, 'os'),
    'os.version': c.optString(o['os.version'], '"os.version"'),
    'os.features': c.optStrings(o['os.features'], '"os.features"'),
    variant: c.optString(o.variant, 'variant'),
    config: c.opt(o.config, 'config', (cc, at) => containerConfigOf(c, cc, at)),
    rootfs: { type: 'layers', diff_ids: diffIds.map((d, i) => c.digest(d, `rootfs.diff_ids[${i}]`)) },
    history: c.opt(o.history, 'history', (h, at) => historyOf(c, h, at)),
  });
}
