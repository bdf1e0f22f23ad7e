import { afterAll, beforeAll } from 'vitest';
import { tempDir } from './build.js';

/**
 * For the whole test file, TMPDIR is a directory of its own (`.dir`, set
 * before the tests run), where builds make their scratch space, so a test can
 * see what they leave there; the old TMPDIR comes back after the file.
 */
export function scratchTmpdir(prefix: string): { dir: string } {
  const scratch = { dir: '' };
  let saved: string | undefined;
  beforeAll(() => {
    scratch.dir = tempDir(prefix);
    saved = process.env.TMPDIR;
    process.env.TMPDIR = scratch.dir;
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  });
  return scratch;
}
