import { ExpansionFailure } from './errors.js';
import { compileShellPattern, PatternSyntaxError, reversePattern, type ShellPattern } from './glob-pattern.js';
import { checkWordLength } from './limits.js';
import { expandGoTemplate } from './regexp-template.js';

/**
 * The value-rewriting parameter expansions: `#`/`##` (remove a prefix),
 * `%`/`%%` (remove a suffix) and `/`/`//` (replace), with BuildKit's results.
 */

function compile(pattern: string, greedy: boolean, anchored: boolean): ShellPattern {
  try {
    return compileShellPattern(pattern, greedy, anchored);
  } catch (err) {
    if (err instanceof PatternSyntaxError) {
      throw new ExpansionFailure(`invalid pattern (${pattern}) in substitution: ${err.message}`);
    }
    throw err;
  }
}

/** `${VAR#pattern}` (shortest) and `${VAR##pattern}` (longest, `greedy`). */
export function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const match = compile(pattern, greedy, true).exec(value);
  return match ? value.slice(match.text.length) : value;
}

function reverseString(text: string): string {
  return Array.from(text).reverse().join('');
}

/**
 * `${VAR%pattern}` and `${VAR%%pattern}`. A regular expression cannot find the
 * shortest rightmost match directly, so, like BuildKit, this reverses both
 * value and pattern and removes a prefix instead.
 */
export function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  return reverseString(trimPrefix(reversePattern(pattern), reverseString(value), greedy));
}

/** UTF-16 length of the character at `pos`; 0 at the end of the string. */
function charWidthAt(text: string, pos: number): number {
  if (pos >= text.length) return 0;
  return (text.codePointAt(pos) ?? 0) > 0xffff ? 2 : 1;
}

/** `${VAR/pattern/replacement}`: the first (leftmost, longest) match only. */
export function replaceFirst(pattern: string, value: string, replacement: string): string {
  const match = compile(pattern, true, false).exec(value);
  if (!match) return value;
  return value.slice(0, match.index) + replacement + value.slice(match.index + match.text.length);
}

/**
 * `${VAR//pattern/replacement}`: every match, walking the value the way Go's
 * `Regexp.ReplaceAllString` does. An empty match right after a previous match
 * is not replaced, and the replacement goes through Go's `$` template
 * expansion.
 */
export function replaceAll(pattern: string, value: string, replacement: string): string {
  const search = compile(pattern, true, false);
  let out = '';
  let lastMatchEnd = 0;
  let searchPos = 0;
  while (searchPos <= value.length) {
    const match = search.exec(value, searchPos);
    if (!match) break;
    const start = match.index;
    const end = start + match.text.length;
    out += value.slice(lastMatchEnd, start);
    if (end > lastMatchEnd || start === 0) out += expandGoTemplate(replacement, match.text);
    checkWordLength(out);
    lastMatchEnd = end;
    const width = charWidthAt(value, searchPos);
    if (searchPos + width > end) searchPos += width;
    else if (searchPos + 1 > end) searchPos += 1;
    else searchPos = end;
  }
  return out + value.slice(lastMatchEnd);
}
