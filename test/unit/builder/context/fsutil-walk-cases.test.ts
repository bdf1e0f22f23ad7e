import { chmod } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { BuildContextError, type WalkOptions } from '../../../../src/builder/context/index.js';
import { PatternMatcher } from '../../../../src/dockerfile/ignore/index.js';
import { loadConformance, type WalkCase } from '../../dockerfile/ignore/conformance.js';
import { runningAsRoot } from './fs-emulation.js';
import { describeWalk, makeTree, removeTree } from './tree.js';

vi.mock('node:fs/promises', async (importOriginal) =>
  (await import('./fs-emulation.js')).emulateNonRootPermissions(await importOriginal()),
);

const cases = loadConformance<WalkCase[]>('fsutil-walk-cases.json').map((c, i) => ({
  ...c,
  name: `#${i + 1} ${c.test} ${JSON.stringify(c.filter)} -> ${
    c.expect_error ? `error "${c.error_contains ?? ''}"` : JSON.stringify(c.expected)
  }${c.setup && runningAsRoot ? ' (EACCES emulated: running as root)' : ''}`,
}));

function options(filter: WalkCase['filter']): WalkOptions {
  const opts: WalkOptions = {};
  if (filter.IncludePatterns) opts.includePatterns = filter.IncludePatterns;
  if (filter.ExcludePatterns) opts.ignore = PatternMatcher.compile(filter.ExcludePatterns);
  if (filter.FollowPaths) opts.followPaths = filter.FollowPaths;
  return opts;
}

const roots: string[] = [];
afterEach(async () => {
  await Promise.all(roots.splice(0).map(removeTree));
});

describe('tonistiigi/fsutil fsutil-walk-cases.json', () => {
  test.each(cases)('$name', async (c) => {
    const root = await makeTree(c.tree);
    roots.push(root);
    if (c.setup !== undefined) {
      // Every permission case says: chmod foo/bar to 0000 after building the tree.
      expect(c.setup).toContain('chmod foo/bar to 0000');
      await chmod(path.join(root, 'foo/bar'), 0o000);
    }
    const walk = describeWalk(root, options(c.filter));
    if (c.expect_error) {
      await expect(walk).rejects.toBeInstanceOf(BuildContextError);
      await expect(describeWalk(root, options(c.filter))).rejects.toThrow(c.error_contains ?? '');
      return;
    }
    expect(await walk).toBe(c.expected);
  });
});
