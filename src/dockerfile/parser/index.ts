export type { Directives, Heredoc, InstructionNode, ParsedDockerfile } from './types.js';
export { parseDockerfile } from './parser.js';
export { dumpAst } from './dump.js';
export { chompHeredocContent, heredocsFromLine, parseHeredocWord, HeredocLexError, type HeredocMarker } from './heredoc.js';
export { goQuote } from './go-quote.js';
export { excerpt, MAX_EXCERPT_CHARS } from './excerpt.js';
