/**
 * src/tar is the project's one tar reader and writer (issue 8, "one of
 * each"), and a leaf: it imports nothing of the project but itself, so that
 * every other module can use it without a cycle.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const TAR_DIR = fileURLToPath(new URL('../../../src/tar/', import.meta.url));

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/\b(?:import|export)\b[^'";]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\s*\(?\s*['"]([^'"]+)['"]/g)].map((m) => (m[1] ?? m[2]) as string);
}

describe('src/tar', () => {
  it('imports only Node built-ins and its own modules', () => {
    const files = readdirSync(TAR_DIR).filter((n) => n.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(3);
    const outside: string[] = [];
    for (const name of files) {
      for (const spec of importsOf(path.join(TAR_DIR, name))) {
        if (spec.startsWith('node:')) continue;
        if (spec.startsWith('./') && !spec.slice(2).includes('/')) continue;
        outside.push(`${name}: ${spec}`);
      }
    }
    expect(outside).toEqual([]);
  });
});
