import { UsageError } from '../errors.js';

/** Where an image goes: `--output type=oci|oci-layout|docker,dest=PATH`. */
export type OutputSpec =
  | { type: 'oci'; dest: string }
  | { type: 'oci-layout'; dest: string }
  | { type: 'docker'; dest: string };

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
  if (dest === undefined || dest === '') throw new UsageError(`--output ${JSON.stringify(text)}: dest is missing`, { hint: 'add dest=PATH' });
  for (const key of fields.keys()) {
    if (key !== 'type' && key !== 'dest' && key !== 'output' && key !== 'name') {
      throw new UsageError(`--output ${JSON.stringify(text)}: unknown option ${JSON.stringify(key)}`);
    }
  }
  return { type: type as OutputSpec['type'], dest };
}
