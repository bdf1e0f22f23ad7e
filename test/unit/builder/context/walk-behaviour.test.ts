import { mkdir, realpath, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { walkContext, type ContextEntry, type WalkOptions } from '../../../../src/builder/context/index.js';
import { PatternMatcher } from '../../../../src/dockerfile/ignore/index.js';
import { readdirLog } from './fs-emulation.js';
import { addTree, makeTempDir, makeTree, removeTree } from './tree.js';

vi.mock('node:fs/promises', async (importOriginal) =>
  (await import('./fs-emulation.js')).emulateNonRootPermissions(await importOriginal()),
);

const roots: string[] = [];
beforeEach(() => {
  readdirLog.length = 0;
});
afterEach(async () => {
  await Promise.all(roots.splice(0).map(removeTree));
});

async function tree(lines: string[]): Promise<string> {
  const root = await makeTree(lines);
  roots.push(root);
  return root;
}

async function walk(root: string, opts: WalkOptions = {}): Promise<ContextEntry[]> {
  const out: ContextEntry[] = [];
  for await (const e of walkContext(root, opts)) out.push(e);
  return out;
}

const paths = (entries: ContextEntry[]): string[] => entries.map((e) => e.path);
const opened = (root: string): string[] => readdirLog.map((d) => path.relative(root, d) || '.');

describe('walkContext and symlinks', () => {
  test('symlinks are reported, never followed, and nothing outside the root is read', async () => {
    const outside = await makeTempDir('hoist-outside-');
    roots.push(outside);
    await addTree(outside, ['ADD secret dir', 'ADD secret/key file s3cr3t', 'ADD token file t0k3n']);
    const root = await tree(['ADD app dir', 'ADD app/main.js file x']);
    await symlink(path.join(outside, 'secret'), path.join(root, 'app/secret-dir'));
    await symlink(path.join(outside, 'token'), path.join(root, 'token'));
    await symlink('.', path.join(root, 'loop'));
    await symlink('..', path.join(root, 'up'));
    await symlink('/etc', path.join(root, 'etc'));

    const realRoot = await realpath(root);
    const entries = await walk(root);
    expect(paths(entries)).toEqual(['app', 'app/main.js', 'app/secret-dir', 'etc', 'loop', 'token', 'up']);
    for (const e of entries) {
      expect(e.absPath).toBe(path.join(realRoot, e.path));
      expect(path.relative(realRoot, e.absPath).startsWith('..')).toBe(false);
      expect(e.path.split('/')).not.toContain('..');
    }
    const links = entries.filter((e) => ['app/secret-dir', 'etc', 'loop', 'token', 'up'].includes(e.path));
    expect(links.every((e) => e.kind === 'symlink')).toBe(true);
    expect(opened(realRoot)).toEqual(['.', 'app']);
  });

  test('followPaths only adds patterns: a followed link is still not descended through', async () => {
    const root = await tree(['ADD real dir', 'ADD real/f file', 'ADD other file', 'ADD l symlink real']);
    expect(paths(await walk(root, { followPaths: ['l'] }))).toEqual(['l', 'real', 'real/f']);
  });

  test('a symlinked context root is resolved first', async () => {
    const root = await tree(['ADD f file']);
    const holder = await makeTempDir('hoist-link-');
    roots.push(holder);
    await symlink(root, path.join(holder, 'ctx'));
    const [entry] = await walk(path.join(holder, 'ctx'));
    expect(entry?.absPath).toBe(path.join(await realpath(root), 'f'));
  });
});

describe('walkContext pruning', () => {
  const layout = [
    'ADD node_modules dir',
    'ADD node_modules/dep dir',
    'ADD node_modules/dep/index.js file',
    'ADD node_modules/keep.md file',
    'ADD src dir',
    'ADD src/a.ts file',
    'ADD other dir',
    'ADD other/x file',
  ];

  test('an excluded directory is not opened when no exception could reach below it', async () => {
    const root = await tree(layout);
    const entries = await walk(root, { ignore: PatternMatcher.compile(['node_modules', '!src/a.ts']) });
    expect(paths(entries)).toEqual(['other', 'other/x', 'src', 'src/a.ts']);
    expect(opened(await realpath(root))).toEqual(['.', 'other', 'src']);
  });

  test('it is opened for a plain exception below it, and reported as the holder of what comes back', async () => {
    const root = await tree(layout);
    const entries = await walk(root, { ignore: PatternMatcher.compile(['node_modules', 'other', '!node_modules/keep.md']) });
    expect(paths(entries)).toEqual(['node_modules', 'node_modules/keep.md', 'src', 'src/a.ts']);
    // node_modules/dep is excluded too, and no exception names anything under it.
    expect(opened(await realpath(root))).toEqual(['.', 'node_modules', 'src']);
  });

  test('a wildcard exception means every excluded directory must be opened', async () => {
    const root = await tree(layout);
    const entries = await walk(root, { ignore: PatternMatcher.compile(['*', '!**/*.md']) });
    expect(paths(entries)).toEqual(['node_modules', 'node_modules/keep.md']);
    expect(opened(await realpath(root))).toEqual(['.', 'node_modules', 'node_modules/dep', 'other', 'src']);
  });

  test('include patterns with wildcards prune directories their leading segments cannot match', async () => {
    const root = await tree([...layout, 'ADD package.json file', 'ADD src/b.md file']);
    expect(paths(await walk(root, { includePatterns: ['*.json'] }))).toEqual(['package.json']);
    expect(opened(await realpath(root))).toEqual(['.']);
    readdirLog.length = 0;
    expect(paths(await walk(root, { includePatterns: ['s?c/*.ts', 'other'] }))).toEqual(['other', 'other/x', 'src', 'src/a.ts']);
    expect(opened(await realpath(root))).toEqual(['.', 'other', 'src']);
    readdirLog.length = 0;
    expect(paths(await walk(root, { includePatterns: ['**/*.md'] }))).toEqual(['node_modules', 'node_modules/keep.md', 'src', 'src/b.md']);
    expect(opened(await realpath(root))).toEqual(['.', 'node_modules', 'node_modules/dep', 'other', 'src']);
  });

  test('plain include patterns prune directories off their path', async () => {
    const root = await tree(layout);
    expect(paths(await walk(root, { includePatterns: ['src/a.ts'] }))).toEqual(['src', 'src/a.ts']);
    expect(opened(await realpath(root))).toEqual(['.', 'src']);
  });
});

describe('walkContext order and errors', () => {
  test('Go order: bytewise names per directory, a directory before its contents', async () => {
    const names = ['\u{1f600}', '\uff5e', '\u00e9', 'a', 'B', 'a.b'];
    const root = await tree(['ADD a dir', 'ADD a/x file']);
    for (const n of names.filter((x) => x !== 'a')) await writeFile(path.join(root, n), '');
    expect(paths(await walk(root))).toEqual(['B', 'a', 'a/x', 'a.b', '\u00e9', '\uff5e', '\u{1f600}']);
  });

  test('a missing root, or a file as root, is a BuildContextError', async () => {
    const root = await tree(['ADD f file']);
    await expect(walk(path.join(root, 'nope'))).rejects.toMatchObject({ code: 'CONTEXT_NOT_FOUND' });
    await expect(walk(path.join(root, 'f'))).rejects.toMatchObject({ code: 'CONTEXT_NOT_DIR' });
  });

  test('an empty directory is reported; an empty excluded one is not', async () => {
    const root = await tree([]);
    await mkdir(path.join(root, 'empty'));
    await mkdir(path.join(root, 'gone'));
    expect(paths(await walk(root, { ignore: PatternMatcher.compile(['gone']) }))).toEqual(['empty']);
  });
});
