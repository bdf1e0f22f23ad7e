/** The build context: which files a build may read, and how to walk them. */
export { BuildContextError } from './errors.js';
export { pathInContext, readContextFile, resolveContextFile } from './context-file.js';
export { loadIgnorePatterns, type LoadedIgnorePatterns } from './ignore-file-loader.js';
export {
  resolveContextRoot,
  statContextPath,
  walkContext,
  type ContextEntry,
  type ContextEntryKind,
  type ContextStat,
  type WalkOptions,
} from './walk.js';
