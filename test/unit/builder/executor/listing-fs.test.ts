import { realpathSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ContextFs } from '../../../../src/builder/copy/source-fs.js';
import { ListingFs } from '../../../../src/builder/executor/step-keys.js';
import { PatternMatcher } from '../../../../src/dockerfile/ignore/index.js';
import { tempDir } from '../../../helpers/build.js';

/** A context with two files, listed as a COPY key lists them. */
async function listed(): Promise<{ root: string; fs: ListingFs }> {
  const root = realpathSync(tempDir('hoist-listing-'));
  writeFileSync(path.join(root, 'a'), 'a');
  writeFileSync(path.join(root, 'b'), 'b');
  const fs = new ListingFs(new ContextFs(root, PatternMatcher.compile([])));
  await fs.lstat('a');
  await fs.lstat('b');
  return { root, fs };
}

describe('a COPY key\'s listing sees whether its files changed since it was made', () => {
  it('untouched files: nothing changed', async () => {
    const { fs } = await listed();
    expect(fs.changedSince()).toBeUndefined();
  });

  it('a same-size edit in place (the tar writer cannot tell), and a file replaced by a rename, are seen', async () => {
    const { root, fs } = await listed();
    await new Promise((r) => setTimeout(r, 20));
    writeFileSync(path.join(root, 'b'), 'B');
    expect(fs.changedSince()).toBe(path.join(root, 'b'));
    const other = await listed();
    writeFileSync(path.join(other.root, 'new'), 'a');
    renameSync(path.join(other.root, 'new'), path.join(other.root, 'a'));
    expect(other.fs.changedSince()).toBe(path.join(other.root, 'a'));
  });
});
