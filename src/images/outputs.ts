import type { Writable } from 'node:stream';
import { UsageError } from '../errors.js';
import { DockerArchive, DockerArchiveStream, OciArchive, OciArchiveStream, OciLayout, type ImageSink } from '../oci/index.js';

/**
 * Where an image goes: `--output type=oci|oci-layout|docker,dest=PATH`. An
 * archive's dest may be a stream the caller owns (standard output for
 * `dest=-`, see {@link bindStandardOutput}).
 */
export type OutputSpec =
  | { type: 'oci'; dest: string | Writable }
  | { type: 'oci-layout'; dest: string }
  | { type: 'docker'; dest: string | Writable };

/** `dest=-`: standard output, as buildx spells it. */
export const STDOUT_DEST = '-';

const TYPES = new Set(['oci', 'oci-layout', 'docker']);

/** Parse one `--output` value (BuildKit's CSV form; `dest` may also be `output`). */
export function parseOutputSpec(text: string): OutputSpec {
  const fields = new Map<string, string>();
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new UsageError(`--output ${JSON.stringify(text)}: expected key=value, got ${JSON.stringify(part)}`, { hint: 'write --output type=oci,dest=image.tar' });
    fields.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1));
  }
  const type = fields.get('type');
  const dest = fields.get('dest') ?? fields.get('output');
  if (type === undefined || !TYPES.has(type)) {
    throw new UsageError(`--output ${JSON.stringify(text)}: unknown or missing type ${JSON.stringify(type ?? '')}`, {
      hint: 'type is one of oci (OCI archive), oci-layout (directory) or docker (docker load tarball)',
    });
  }
  if (dest === undefined || dest === '') throw new UsageError(`--output ${JSON.stringify(text)}: dest is missing`, { hint: 'add dest=PATH (or dest=- for standard output)' });
  if (type === 'oci-layout' && dest === STDOUT_DEST) {
    throw new UsageError(`--output ${JSON.stringify(text)}: an OCI layout is a directory and cannot go to standard output`, {
      hint: 'use type=oci,dest=- for an OCI archive on standard output, or give the layout a directory',
    });
  }
  for (const key of fields.keys()) {
    if (key !== 'type' && key !== 'dest' && key !== 'output' && key !== 'name') {
      throw new UsageError(`--output ${JSON.stringify(text)}: unknown option ${JSON.stringify(key)}`);
    }
  }
  return { type: type as OutputSpec['type'], dest };
}

/** How an output is named in messages: its path, or `-` for a stream. */
export function outputDestName(spec: OutputSpec): string {
  return typeof spec.dest === 'string' ? spec.dest : STDOUT_DEST;
}

/**
 * Send `dest=-` outputs to `stdout`. At most one output may, and not when
 * standard output is a terminal: buildx refuses the same ("refusing to write
 * to console"), since a tar stream would only garble the screen.
 */
export function bindStandardOutput(specs: readonly OutputSpec[], stdout: { stream: Writable; isTerminal: boolean }): OutputSpec[] {
  const toStdout = specs.filter((s) => s.dest === STDOUT_DEST);
  if (toStdout.length > 1) {
    throw new UsageError('several --output values write to standard output (dest=-); only one can', { hint: 'give the others dest=FILE' });
  }
  const [one] = toStdout;
  if (one !== undefined && stdout.isTerminal) {
    throw new UsageError(`--output type=${one.type},dest=-: refusing to write an image archive to a terminal`, {
      hint: `redirect standard output (> image.tar, or | docker load), or write to a file with dest=FILE`,
    });
  }
  return specs.map((s) => (s.dest === STDOUT_DEST && s.type !== 'oci-layout' ? { ...s, dest: stdout.stream } : s));
}

/** The sink an output writes through; `spoolDir` is scratch space for a docker archive sent to a stream. */
export function outputSink(output: OutputSpec, spoolDir: string): ImageSink {
  switch (output.type) {
    case 'oci':
      return typeof output.dest === 'string' ? new OciArchive(output.dest) : new OciArchiveStream(output.dest);
    case 'oci-layout':
      return new OciLayout(output.dest);
    case 'docker':
      return typeof output.dest === 'string' ? new DockerArchive(output.dest) : new DockerArchiveStream(output.dest, spoolDir);
  }
}
