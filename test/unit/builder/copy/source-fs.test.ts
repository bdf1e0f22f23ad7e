import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ContextFs } from '../../../../src/builder/copy/source-fs.js';
import { PatternMatcher } from '../../../../src/dockerfile/ignore/index.js';
import { HoistError } from '../../../../src/errors.js';
import { tempDir } from '../../../helpers/build.js';

describe('ContextFs', () => {
  const root = tempDir('hoist-srcfs-');
  mkdirSync(path.join(root, 'd'));
  for (const name of ['b', 'a', 'é', 'Z']) writeFileSync(path.join(root, 'd', name), name);
  const fs = new ContextFs(root, PatternMatcher.compile([]));

  it('lists a directory in byte order, and a missing path is undefined', async () => {
    expect(await fs.readdir('d')).toEqual(['Z', 'a', 'b', 'é']);
    expect(await fs.lstat('d/nope')).toBeUndefined();
    expect(await fs.lstat('d/a/below-a-file')).toBeUndefined();
  });

  it('a path the system refuses to read is CONTEXT_UNREADABLE (a user error the build can locate), not a raw system error', async () => {
    const err = await fs.lstat(`d/${'x'.repeat(300)}`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HoistError);
    expect((err as HoistError).code).toBe('CONTEXT_UNREADABLE');
    expect((err as HoistError).message).toContain('ENAMETOOLONG');
    const listing = await fs.readdir('d/a').catch((e: unknown) => e);
    expect((listing as HoistError).code).toBe('CONTEXT_UNREADABLE');
  });
});
