/**
 * The .dockerignore reader shared by docker/cli, moby and BuildKit
 * (moby/patternmatcher/ignorefile.ReadAll). It only normalises lines; it
 * does not validate them: a lone "!" is kept and rejected by
 * PatternMatcher.compile.
 */
import { trimGoSpace } from '../parser/chars.js';
import { goClean } from './go-path.js';

export interface IgnoreFileLine {
  /** The pattern as ReadAll returns it. */
  readonly pattern: string;
  /** 1-based line in the file, for error messages. */
  readonly line: number;
}

/** ReadAll, keeping the line each pattern came from. null (no file) gives no patterns. */
export function readIgnoreFileLines(text: string | null): IgnoreFileLine[] {
  if (text === null) return [];
  const out: IgnoreFileLine[] = [];
  const lines = text.split('\n');
  // bufio.Scanner yields no empty token after a final newline.
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((raw, index) => {
    let line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (index === 0 && line.startsWith('\ufeff')) line = line.slice(1);
    // Only a '#' in the very first column starts a comment.
    if (line.startsWith('#')) return;
    let pattern = trimGoSpace(line);
    if (pattern === '') return;
    const invert = pattern.startsWith('!');
    if (invert) pattern = trimGoSpace(pattern.slice(1));
    if (pattern.length > 0) {
      pattern = goClean(pattern);
      // "/a/b" and "a/b" mean the same: paths are relative to the context.
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    }
    out.push({ pattern: invert ? `!${pattern}` : pattern, line: index + 1 });
  });
  return out;
}

/** ignorefile.ReadAll: the patterns of a .dockerignore text, in order. */
export function parseIgnoreFile(text: string | null): string[] {
  return readIgnoreFileLines(text).map((l) => l.pattern);
}
