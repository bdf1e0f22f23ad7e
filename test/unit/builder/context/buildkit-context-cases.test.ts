import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { loadIgnorePatterns, walkContext } from '../../../../src/builder/context/index.js';
import { DockerfileError } from '../../../../src/dockerfile/errors.js';
import { BAD_IGNORE_PATTERN, PatternMatcher } from '../../../../src/dockerfile/ignore/index.js';
import { loadConformance, type BuildkitContextCase } from '../../dockerfile/ignore/conformance.js';
import { makeTempDir, removeTree } from './tree.js';

const cases = loadConformance<BuildkitContextCase[]>('buildkit-context-cases.json');
const byName = (name: string): BuildkitContextCase => {
  const c = cases.find((x) => x.name === name);
  if (!c) throw new Error(`no case ${name}`);
  return c;
};

const roots: string[] = [];
afterEach(async () => {
  await Promise.all(roots.splice(0).map(removeTree));
});

async function makeContext(files: Record<string, string>): Promise<string> {
  const root = await makeTempDir();
  roots.push(root);
  for (const [name, content] of Object.entries(files)) await writeFile(path.join(root, name), content);
  return root;
}

/** What `COPY . .` would get: the regular files left after the ignore file, with their contents. */
async function copiedFiles(contextDir: string, dockerfile: string): Promise<Map<string, string>> {
  const { patterns } = await loadIgnorePatterns(contextDir, path.join(contextDir, dockerfile));
  const files = new Map<string, string>();
  for await (const e of walkContext(contextDir, { ignore: PatternMatcher.compile(patterns) })) {
    if (e.kind === 'file') files.set(e.path, await readFile(e.absPath, 'utf8'));
  }
  return files;
}

describe('BuildKit buildkit-context-cases.json', () => {
  test('the table holds the three cases this file runs', () => {
    expect(cases.map((c) => c.name)).toEqual(['testDockerignore', 'testDockerignoreInvalid', 'testDockerignoreOverride']);
  });

  test('testDockerignore: the ignore file and Dockerfile exclude themselves, "!bay" re-includes', async () => {
    const c = byName('testDockerignore');
    const files = Object.fromEntries(
      Object.entries(c.context_files ?? {}).map(([name, content]) => [
        name,
        content.replace('<the dockerfile above>', c.dockerfile ?? '').replace('<the dockerignore above>', c.dockerignore ?? ''),
      ]),
    );
    const root = await makeContext(files);
    const copied = await copiedFiles(root, 'Dockerfile');
    expect(Object.fromEntries(copied)).toEqual(c.expect_present);
    for (const name of c.expect_absent ?? []) expect(copied.has(name)).toBe(false);
  });

  test('testDockerignoreInvalid: a lone "!" fails the build, with file and line', async () => {
    const c = byName('testDockerignoreInvalid');
    expect(c.expect_error).toBe(true);
    const root = await makeContext({ Dockerfile: c.dockerfile ?? '', '.dockerignore': c.dockerignore ?? '' });
    const loading = loadIgnorePatterns(root, path.join(root, 'Dockerfile'));
    await expect(loading).rejects.toBeInstanceOf(DockerfileError);
    await expect(loading).rejects.toMatchObject({
      code: BAD_IGNORE_PATTERN,
      location: { file: path.join(root, '.dockerignore'), line: 1 },
    });
    // The matcher the walker is handed rejects the same patterns.
    expect(() => PatternMatcher.compile(['!'])).toThrow(expect.objectContaining({ code: BAD_IGNORE_PATTERN }));
  });

  const override = byName('testDockerignoreOverride');
  test.each(override.builds ?? [])('testDockerignoreOverride: -f $dockerfile uses its own .dockerignore', async (b) => {
    const root = await makeContext(override.files ?? {});
    const copied = await copiedFiles(root, b.dockerfile);
    // The case checks files with `RUN [ -f x ] && [ ! -f y ]`; read those checks from the Dockerfile itself.
    const run = /^RUN (.*)$/m.exec(override.files?.[b.dockerfile] ?? '')?.[1] ?? '';
    const checks = [...run.matchAll(/\[ (! )?-f (\S+) \]/g)].map((m) => ({ present: m[1] === undefined, file: m[2] ?? '' }));
    expect(checks.length).toBeGreaterThan(0);
    const ok = checks.every((ch) => copied.has(ch.file) === ch.present);
    expect(ok).toBe(b.expect_success);
  });
});
