/**
 * Canonical serialization of manifests, indexes and configs: keys in the
 * order the OCI image-spec Go structs declare them, map keys (labels,
 * annotations, port sets) sorted like Go's encoding/json, undefined fields
 * omitted, no whitespace, no trailing newline. The same value always gives
 * the same bytes, hence the same digest.
 */
import type { ConfigFile, ContainerConfig, Descriptor, Index, Manifest, Platform } from './types.js';

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

/** Map-typed fields: Go's encoding/json sorts map keys. */
function sortedMap(v: unknown): unknown {
  const src = v as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(src).sort()) out[key] = src[key];
  return out;
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

function bytes(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
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

/** A descriptor as a plain object in canonical key order (for embedding in other JSON). */
export function canonicalDescriptor(d: Descriptor): Descriptor {
  return descriptor(d) as Descriptor;
}

export function canonicalPlatform(p: Platform): Platform {
  return platform(p) as Platform;
}

export function canonicalContainerConfig(c: ContainerConfig): ContainerConfig {
  return containerConfig(c) as ContainerConfig;
}
