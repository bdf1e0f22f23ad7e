/**
 * Instruction flags (`--name=value`, `--name`), with BuildKit's BFlags rules:
 * flags are declared per instruction, unknown or repeated ones are errors, a
 * string flag needs a value, a boolean flag takes none or true/false.
 */
import { suggest } from './suggest.js';

export type FlagSpec = Readonly<Record<string, 'string' | 'bool' | 'strings'>>;

export interface ParsedFlags {
  strings: Map<string, string>;
  bools: Map<string, boolean>;
  lists: Map<string, string[]>;
}

export class FlagError extends Error {}

export function parseFlags(words: readonly string[], spec: FlagSpec, instruction: string): ParsedFlags {
  const parsed: ParsedFlags = { strings: new Map(), bools: new Map(), lists: new Map() };
  for (const word of words) {
    if (!word.startsWith('--')) throw new FlagError(`${instruction}: invalid flag ${JSON.stringify(word)}`);
    const body = word.slice(2);
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const value = eq < 0 ? undefined : body.slice(eq + 1);
    const type = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (type === undefined) {
      const known = Object.keys(spec).map((k) => `--${k}`);
      const guess = suggest(`--${name}`, known);
      throw new FlagError(
        `${instruction}: unknown flag: --${name}` +
          (guess ? ` (did you mean ${guess}?)` : known.length ? ` (${instruction} accepts ${known.join(', ')})` : ` (${instruction} takes no flags)`),
      );
    }
    if (type === 'strings') {
      if (value === undefined) throw new FlagError(`${instruction}: missing a value on flag: --${name}`);
      const list = parsed.lists.get(name) ?? [];
      list.push(value);
      parsed.lists.set(name, list);
      continue;
    }
    if (parsed.strings.has(name) || parsed.bools.has(name)) {
      throw new FlagError(`${instruction}: duplicate flag specified: --${name}`);
    }
    if (type === 'string') {
      if (value === undefined) throw new FlagError(`${instruction}: missing a value on flag: --${name}`);
      parsed.strings.set(name, value);
    } else {
      parsed.bools.set(name, parseBool(name, value, instruction));
    }
  }
  return parsed;
}

/** BuildKit's BFlags: a bare flag is true; otherwise only true/false, and an empty value is missing. */
function parseBool(name: string, value: string | undefined, instruction: string): boolean {
  if (value === undefined) return true;
  if (value === '') throw new FlagError(`${instruction}: missing a value on flag: --${name}`);
  const v = value.toLowerCase();
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new FlagError(`${instruction}: expecting boolean value for flag --${name}, not: ${value}`);
}
