/**
 * Canonical serialization of manifests, indexes and configs: keys in the
 * order the OCI image-spec Go structs declare them, map keys (labels,
 * annotations, port sets) sorted like Go's encoding/json, undefined fields
 * omitted, no whitespace, no trailing newline. The same value always gives
 * the same bytes, hence the same digest.
 */
import type { ConfigFile, Index, Manifest } from './types.js';

/** How to serialize one object: its keys in order, and how to write each value. */
type Shape = readonly (readonly [key: string, write?: (v: unknown) => unknown])[];

function ordered(shape: Shape): (v: unknown) => unknown {
  return (v) => {
    const src = v as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [key, write] of shape) {
      const value = src[key];
      if (value === undefined) continue;
      out[key] = write === undefined ? value : write(value);
    }
    return out;
  };
}

/**
 * A map-typed field, its keys sorted as Go's encoding/json sorts them (by
 * their UTF-8 bytes). It is written by `encode`, not JSON.stringify: a JS
 * object would put integer-like keys ("10", "9") first whatever their
 * order, and would drop a `__proto__` key.
 */
class GoMap {
  constructor(readonly entries: ReadonlyArray<readonly [string, unknown]>) {}
}

function sortedMap(v: unknown): unknown {
  const keys = Object.keys(v as object).map((key) => ({ key, utf8: Buffer.from(key, 'utf8') }));
  keys.sort((a, b) => Buffer.compare(a.utf8, b.utf8));
  return new GoMap(keys.map(({ key }) => [key, (v as Record<string, unknown>)[key]] as const));
}

function listOf(write: (v: unknown) => unknown): (v: unknown) => unknown {
  return (v) => (v as unknown[]).map(write);
}

const platform = ordered([['architecture'], ['os'], ['os.version'], ['os.features'], ['variant'], ['features']]);

const descriptor = ordered([
  ['mediaType'],
  ['digest'],
  ['size'],
  ['urls'],
  ['annotations', sortedMap],
  ['platform', platform],
  ['artifactType'],
]);

const manifest = ordered([
  ['schemaVersion'],
  ['mediaType'],
  ['artifactType'],
  ['config', descriptor],
  ['layers', listOf(descriptor)],
  ['subject', descriptor],
  ['annotations', sortedMap],
]);

const index = ordered([
  ['schemaVersion'],
  ['mediaType'],
  ['artifactType'],
  ['manifests', listOf(descriptor)],
  ['subject', descriptor],
  ['annotations', sortedMap],
]);

const health = ordered([['Test'], ['Interval'], ['Timeout'], ['StartPeriod'], ['StartInterval'], ['Retries']]);

const containerConfig = ordered([
  ['User'],
  ['ExposedPorts', sortedMap],
  ['Env'],
  ['Entrypoint'],
  ['Cmd'],
  ['Volumes', sortedMap],
  ['WorkingDir'],
  ['Labels', sortedMap],
  ['StopSignal'],
  ['ArgsEscaped'],
  ['Healthcheck', health],
  ['OnBuild'],
  ['Shell'],
]);

const history = ordered([['created'], ['created_by'], ['author'], ['comment'], ['empty_layer']]);

const config = ordered([
  ['created'],
  ['author'],
  ['architecture'],
  ['os'],
  ['os.version'],
  ['os.features'],
  ['variant'],
  ['config', containerConfig],
  ['rootfs', ordered([['type'], ['diff_ids']])],
  ['history', listOf(history)],
]);

/** JSON text of a value made by the shapes above: GoMaps in their own order, everything else as JSON.stringify writes it. */
function encode(value: unknown): string {
  if (value instanceof GoMap) return `{${value.entries.map(([k, v]) => `${JSON.stringify(k)}:${encode(v)}`).join(',')}}`;
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : encode(v))).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const fields = Object.entries(value).filter(([, v]) => v !== undefined);
    return `{${fields.map(([k, v]) => `${JSON.stringify(k)}:${encode(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function bytes(value: unknown): Buffer {
  return Buffer.from(encode(value), 'utf8');
}

export function serializeManifest(m: Manifest): Buffer {
  return bytes(manifest(m));
}

export function serializeIndex(i: Index): Buffer {
  return bytes(index(i));
}

export function serializeConfigFile(c: ConfigFile): Buffer {
  return bytes(config(c));
}
