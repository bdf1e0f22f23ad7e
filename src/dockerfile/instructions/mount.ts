/**
 * The `RUN --mount=...` option grammar (comma-separated key=value, BuildKit's
 * names). Only what the frontend needs to check and to find stage
 * dependencies; the runner interprets the rest.
 */
export type MountType = 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';

export interface MountSpec {
  type: MountType;
  options: Map<string, string>;
  from: string | undefined;
}

const MOUNT_TYPES: ReadonlySet<string> = new Set(['bind', 'cache', 'tmpfs', 'secret', 'ssh']);

const BARE_KEYS: ReadonlySet<string> = new Set(['ro', 'rw', 'readonly', 'readwrite', 'required']);

const KNOWN_KEYS: ReadonlySet<string> = new Set([
  'type', 'target', 'dst', 'destination', 'source', 'src', 'from', 'readonly', 'ro', 'readwrite', 'rw',
  'id', 'sharing', 'mode', 'uid', 'gid', 'required', 'size', 'env',
]);

/** Split on commas, honouring double-quoted fields as Go's csv reader does. */
function splitFields(text: string): string[] {
  const fields: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '"') {
      if (quoted && text[i + 1] === '"') {
        current += '"';
        i++;
      } else {
        quoted = !quoted;
      }
    } else if (c === ',' && !quoted) {
      fields.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  if (quoted) throw new Error(`unterminated quote in mount ${JSON.stringify(text)}`);
  fields.push(current);
  return fields;
}

export function parseMountSpec(text: string): MountSpec {
  const options = new Map<string, string>();
  for (const field of splitFields(text)) {
    const trimmed = field.trim();
    if (trimmed === '') continue;
    const eq = trimmed.indexOf('=');
    const key = (eq < 0 ? trimmed : trimmed.slice(0, eq)).toLowerCase();
    const value = eq < 0 ? '' : trimmed.slice(eq + 1);
    // BuildKit's parseMount judges a field without `=` before it looks the key up.
    if (eq < 0 && !BARE_KEYS.has(key)) throw new Error(`invalid field '${trimmed}' must be a key=value pair`);
    if (!KNOWN_KEYS.has(key)) throw new Error(`unexpected key '${key}' in '${trimmed}'`);
    options.set(key, key === 'type' ? value.toLowerCase() : value);
  }
  const type = options.get('type') ?? 'bind';
  if (!MOUNT_TYPES.has(type)) {
    throw new Error(`unsupported mount type ${JSON.stringify(type)} (use bind, cache, tmpfs, secret or ssh)`);
  }
  const from = options.get('from');
  return { type: type as MountType, options, from: from === '' ? undefined : from };
}
