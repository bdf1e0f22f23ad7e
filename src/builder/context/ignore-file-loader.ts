/**
 * Finds and reads the ignore file for a build. As in BuildKit, a
 * `<Dockerfile name>.dockerignore` next to the Dockerfile wins over the
 * context's `.dockerignore`; with neither, nothing is ignored.
 */
import path from 'node:path';
import { DockerfileError } from '../../dockerfile/errors.js';
import { PatternMatcher, readIgnoreFileLines } from '../../dockerfile/ignore/index.js';
import { readContextFile } from './context-file.js';
import { BuildContextError, errnoCode } from './errors.js';

export interface LoadedIgnorePatterns {
  /** ignorefile.ReadAll output: PatternMatcher.compile them for walkContext's `ignore`. */
  patterns: string[];
  /** The file they came from, or null when there is none. */
  file: string | null;
}

/** The file's text, or null when there is no such regular file. */
async function readIfPresent(contextDir: string, file: string): Promise<string | null> {
  try {
    return await readContextFile(contextDir, file);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return null;
    // BuildKit ignores this error; an unread ignore file could leak secrets into the image.
    throw new BuildContextError('IGNORE_FILE_UNREADABLE', `cannot read ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Rejects the patterns PatternMatcher.compile would reject, naming the file and line. */
function validate(file: string, lines: ReturnType<typeof readIgnoreFileLines>): void {
  for (const { pattern, line } of lines) {
    try {
      PatternMatcher.compile([pattern]);
    } catch (err) {
      if (!(err instanceof DockerfileError)) throw err;
      const options = err.hint === undefined ? { cause: err } : { cause: err, hint: err.hint };
      throw new DockerfileError(err.code, err.detail, { file, line }, options);
    }
  }
}

export async function loadIgnorePatterns(contextDir: string, dockerfilePath: string): Promise<LoadedIgnorePatterns> {
  const candidates = [`${dockerfilePath}.dockerignore`, path.join(contextDir, '.dockerignore')];
  for (const file of candidates) {
    const text = await readIfPresent(contextDir, file);
    if (text === null) continue;
    const lines = readIgnoreFileLines(text);
    validate(file, lines);
    return { patterns: lines.map((l) => l.pattern), file };
  }
  return { patterns: [], file: null };
}
