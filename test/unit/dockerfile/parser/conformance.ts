import { readdirSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** /work/shared/conformance, the shared test data (read in place, never copied). */
export const conformance = new URL('../../../../../shared/conformance/', import.meta.url);

export function conformancePath(relative: string): string {
  return fileURLToPath(new URL(relative, conformance));
}

export function readConformance(relative: string): string {
  return readFileSync(conformancePath(relative), 'utf8');
}

/** The case directories of a golden-file folder (LICENSE and SOURCE.md skipped). */
export function caseDirectories(folder: string): string[] {
  const root = conformancePath(folder);
  return readdirSync(root)
    .filter((name) => statSync(`${root}/${name}`).isDirectory())
    .sort();
}
