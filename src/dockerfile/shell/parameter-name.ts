import { isDigit, isNameChar } from './char-classes.js';
import { EOF, type RuneScanner } from './rune-scanner.js';

/**
 * POSIX special parameters (`$@ $* $# $? $- $$ $! $0`). A Dockerfile never
 * sets them, so they expand to empty like any unset name.
 */
const SPECIAL_PARAMETERS = new Set(Array.from('@*#?-$!0', (ch) => ch.codePointAt(0) ?? 0));

/**
 * Reads the name after `$` or `${`: a run of digits (a positional parameter,
 * `$999aaa` names `999`), one special-parameter character, or a run of
 * letters, digits and underscores. Returns '' when no name starts here.
 */
export function readParameterName(scanner: RuneScanner): string {
  let name = '';
  for (let ch = scanner.peek(); ch !== EOF; ch = scanner.peek()) {
    if (name === '' && isDigit(ch)) {
      while (isDigit(scanner.peek())) name += String.fromCodePoint(scanner.next());
      return name;
    }
    if (name === '' && SPECIAL_PARAMETERS.has(ch)) {
      return String.fromCodePoint(scanner.next());
    }
    if (!isNameChar(ch)) break;
    name += String.fromCodePoint(scanner.next());
  }
  return name;
}
