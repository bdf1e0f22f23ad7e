/** Loads the .dockerignore conformance tables from ../shared/conformance/dockerignore (read in place, never copied). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const CONFORMANCE_DIR = fileURLToPath(new URL('../../../../../shared/conformance/dockerignore/', import.meta.url));

export function loadConformance<T>(name: string): T {
  return JSON.parse(readFileSync(`${CONFORMANCE_DIR}${name}`, 'utf8')) as T;
}

export interface MatchCase {
  patterns: string[];
  path: string;
  match: boolean;
  error?: boolean;
  error_kind?: string;
  api: 'Matches' | 'MatchesOrParentMatches';
  source: string;
  platform?: string;
  skip_on_windows?: boolean;
}

export interface CompileCase {
  pattern: string;
  matchType: 'exactMatch' | 'prefixMatch' | 'suffixMatch' | 'regexpMatch';
  regexp?: string;
  windowsRegexp?: string;
}

export interface IgnoreFileCase {
  input: string | null;
  expected: string[];
  note?: string;
  source: string;
}

export interface WalkCase {
  test: string;
  tree: string[];
  filter: { IncludePatterns?: string[]; ExcludePatterns?: string[]; FollowPaths?: string[] };
  expected?: string;
  expect_error?: boolean;
  error_contains?: string;
  setup?: string;
}

export interface BuildkitContextCase {
  name: string;
  dockerfile?: string;
  dockerignore?: string;
  context_files?: Record<string, string>;
  files?: Record<string, string>;
  expect_present?: Record<string, string>;
  expect_absent?: string[];
  expect_error?: boolean;
  builds?: { dockerfile: string; expect_success: boolean }[];
  note?: string;
}
