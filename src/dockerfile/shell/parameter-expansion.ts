import { ExpansionFailure } from './errors.js';
import { readParameterName } from './parameter-name.js';
import { replaceAll, replaceFirst, trimPrefix, trimSuffix } from './pattern-operators.js';
import { EOF, type RuneScanner, runeToString } from './rune-scanner.js';

/**
 * `${...}` parameter expansion, entered just after the `${`. The operators
 * and their errors are BuildKit's: `:-`, `-`, `:+`, `+`, `:?`, `?`, `#`,
 * `##`, `%`, `%%`, `/`, `//`. Anything else (`:=`, `=`, `${#VAR}`, `${!VAR}`,
 * `:#`...) is an "unsupported modifier" error.
 */

/** What `${...}` needs from the word being expanded. */
export interface BraceContext {
  readonly scanner: RuneScanner;
  readonly skipUnsetEnv: boolean;
  /** The value, or undefined when unset; records the name as matched or not. */
  lookup(name: string): string | undefined;
  /** Expands up to the unescaped, unquoted `stop` character and consumes it. */
  expandUntil(stop: number, rawEscapes: boolean): string;
}

const CLOSE_BRACE = 0x7d;
const OPEN_BRACE = 0x7b;
const COLON = 0x3a;
const SLASH = 0x2f;
const PLUS = 0x2b;
const MINUS = 0x2d;
const QUESTION = 0x3f;
const HASH = 0x23;
const PERCENT = 0x25;

const MISSING_BRACE = "syntax error: missing '}'";

function unsupported(modifier: string): ExpansionFailure {
  return new ExpansionFailure(`unsupported modifier (${modifier}) in substitution`);
}

/** Like BuildKit, running out of input inside `${}` reports what was missing. */
function expandUntil(ctx: BraceContext, stop: number, rawEscapes: boolean, atEof: string): string {
  try {
    return ctx.expandUntil(stop, rawEscapes);
  } catch (err) {
    if (err instanceof ExpansionFailure && ctx.scanner.peek() === EOF) throw new ExpansionFailure(atEof);
    throw err;
  }
}

export function expandBraced(ctx: BraceContext): string {
  const { scanner } = ctx;
  const first = scanner.peek();
  if (first === EOF) throw new ExpansionFailure(MISSING_BRACE);
  if (first === OPEN_BRACE || first === CLOSE_BRACE || first === COLON) {
    throw new ExpansionFailure('syntax error: bad substitution');
  }
  const name = readParameterName(scanner);
  const op = scanner.next();
  switch (op) {
    case CLOSE_BRACE: {
      const value = ctx.lookup(name);
      if (value === undefined && ctx.skipUnsetEnv) return `\${${name}}`;
      return value ?? '';
    }
    case COLON: {
      const colonOp = scanner.next();
      return expandWithWord(ctx, name, colonOp, `:${runeToString(colonOp)}`, true);
    }
    case PLUS:
    case MINUS:
    case QUESTION:
    case HASH:
    case PERCENT:
      return expandWithWord(ctx, name, op, runeToString(op), false);
    case SLASH:
      return expandReplacement(ctx, name);
    default:
      throw unsupported(runeToString(op));
  }
}

/** The operators followed by one word: defaults, alternatives, checks, trims. */
function expandWithWord(
  ctx: BraceContext,
  name: string,
  op: number,
  modifier: string,
  nullIsUnset: boolean,
): string {
  const isTrim = op === HASH || op === PERCENT;
  if (nullIsUnset && isTrim) throw unsupported(modifier);
  // Trim patterns keep their escapes so that `\*` still means a literal star.
  let word = expandUntil(ctx, CLOSE_BRACE, isTrim, MISSING_BRACE);

  const value = ctx.lookup(name);
  if (value === undefined && ctx.skipUnsetEnv) return `\${${name}${modifier}${word}}`;
  const useWord = value === undefined || (nullIsUnset && value === '');

  switch (op) {
    case MINUS:
      return useWord ? word : (value ?? '');
    case PLUS:
      return useWord ? '' : word;
    case QUESTION:
      if (value === undefined) throw new ExpansionFailure(`${name}: ${word || 'is not allowed to be unset'}`);
      if (useWord) throw new ExpansionFailure(`${name}: ${word || 'is not allowed to be empty'}`);
      return value;
    case HASH:
    case PERCENT: {
      // A doubled operator (`##`, `%%`) asks for the longest match.
      const greedy = word.codePointAt(0) === op;
      if (greedy) word = word.slice(1);
      return op === PERCENT ? trimSuffix(word, value ?? '', greedy) : trimPrefix(word, value ?? '', greedy);
    }
    default:
      throw unsupported(modifier);
  }
}

/** `${VAR/pattern/replacement}` and `${VAR//pattern/replacement}`. */
function expandReplacement(ctx: BraceContext, name: string): string {
  const all = ctx.scanner.peek() === SLASH;
  if (all) ctx.scanner.next();
  const pattern = expandUntil(ctx, SLASH, true, "syntax error: missing '/' in ${}");
  const replacement = expandUntil(ctx, CLOSE_BRACE, true, MISSING_BRACE);

  const value = ctx.lookup(name);
  // BuildKit writes an unset `//` back with a single slash; kept for parity.
  if (value === undefined && ctx.skipUnsetEnv) return `\${${name}/${pattern}/${replacement}}`;
  return all ? replaceAll(pattern, value ?? '', replacement) : replaceFirst(pattern, value ?? '', replacement);
}
