import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { loadIgnorePatterns } from '../../../../src/builder/context/index.js';
import { makeTempDir, removeTree } from './tree.js';

const roots: string[] = [];
afterEach(async () => {
  await Promise.all(roots.splice(0).map(removeTree));
});

async function tempDir(): Promise<string> {
  const dir = await makeTempDir();
  roots.push(dir);
  return dir;
}

describe('loadIgnorePatterns', () => {
  test('<Dockerfile>.dockerignore next to the Dockerfile beats <context>/.dockerignore', async () => {
    const ctx = await tempDir();
    await writeFile(path.join(ctx, '.dockerignore'), 'from-context\n');
    await writeFile(path.join(ctx, 'Dockerfile.dockerignore'), '# mine\n/only/./this/\n');
    expect(await loadIgnorePatterns(ctx, path.join(ctx, 'Dockerfile'))).toEqual({
      patterns: ['only/this'],
      file: path.join(ctx, 'Dockerfile.dockerignore'),
    });
    // Another Dockerfile with no ignore file of its own falls back to the context's.
    expect(await loadIgnorePatterns(ctx, path.join(ctx, 'Other.Dockerfile'))).toEqual({
      patterns: ['from-context'],
      file: path.join(ctx, '.dockerignore'),
    });
  });

  test('the Dockerfile may live outside the context', async () => {
    const ctx = await tempDir();
    const elsewhere = await tempDir();
    await writeFile(path.join(ctx, '.dockerignore'), 'a\n');
    await writeFile(path.join(elsewhere, 'build.Dockerfile.dockerignore'), 'b\n');
    expect(await loadIgnorePatterns(ctx, path.join(elsewhere, 'build.Dockerfile'))).toEqual({
      patterns: ['b'],
      file: path.join(elsewhere, 'build.Dockerfile.dockerignore'),
    });
  });

  test('no ignore file at all: no patterns and no file', async () => {
    const ctx = await tempDir();
    expect(await loadIgnorePatterns(ctx, path.join(ctx, 'Dockerfile'))).toEqual({ patterns: [], file: null });
  });

  test('an empty ignore file still counts as the ignore file', async () => {
    const ctx = await tempDir();
    await writeFile(path.join(ctx, '.dockerignore'), '');
    expect(await loadIgnorePatterns(ctx, path.join(ctx, 'Dockerfile'))).toEqual({
      patterns: [],
      file: path.join(ctx, '.dockerignore'),
    });
  });

  test('a directory named .dockerignore is not an ignore file', async () => {
    const ctx = await tempDir();
    await mkdir(path.join(ctx, '.dockerignore'));
    expect(await loadIgnorePatterns(ctx, path.join(ctx, 'Dockerfile'))).toEqual({ patterns: [], file: null });
  });

  test('a bad pattern is reported with the file and its line', async () => {
    const ctx = await tempDir();
    const file = path.join(ctx, '.dockerignore');
    await writeFile(file, '# comment\n\nok\nsrc/[abc\n');
    await expect(loadIgnorePatterns(ctx, path.join(ctx, 'Dockerfile'))).rejects.toMatchObject({
      name: 'DockerfileError',
      code: 'BAD_IGNORE_PATTERN',
      location: { file, line: 4 },
      message: expect.stringMatching(/^.*\.dockerignore:4: invalid ignore pattern "src\/\[abc"/),
    });
  });
});
