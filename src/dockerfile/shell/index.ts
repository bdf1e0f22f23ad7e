/**
 * Dockerfile shell-word expansion with BuildKit's semantics. See ShellLex.
 */
export { ShellLex, type LexOptions, type WordResult, type WordsResult } from './lex.js';
export { ShellExpansionError } from './errors.js';
