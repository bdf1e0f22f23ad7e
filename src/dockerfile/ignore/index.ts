/** .dockerignore: the reader and the matcher, with Docker's exact semantics. Pure: no I/O. */
export { parseIgnoreFile, readIgnoreFileLines, type IgnoreFileLine } from './ignore-file.js';
export {
  BAD_IGNORE_PATTERN,
  NO_PARENT_MATCH_INFO,
  PatternMatcher,
  type IgnorePattern,
  type MatchInfo,
} from './matcher.js';
export { goFilepathMatch, type GoMatchResult } from './go-filepath-match.js';
export { goClean } from './go-path.js';
export { translatePattern, type MatchType } from './pattern-compile.js';
