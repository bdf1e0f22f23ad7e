import { isNameChar } from './char-classes.js';
import { checkWordLength } from './limits.js';

/**
 * Go's `Regexp.Expand` for a pattern with no capture groups, which is what
 * BuildKit's `${VAR//pat/repl}` runs the replacement through (its single
 * `${VAR/pat/repl}` does not). So in `//` replacements `$0` and `${0}` stand
 * for the matched text, `$$` for `$`, any other `$name` for nothing, and a
 * `$` that starts no name stays literal.
 */
export function expandGoTemplate(template: string, match: string): string {
  let out = '';
  let rest = template;
  for (;;) {
    const dollar = rest.indexOf('$');
    if (dollar < 0) break;
    out += rest.slice(0, dollar);
    rest = rest.slice(dollar + 1);
    if (rest.startsWith('$')) {
      out += '$';
      rest = rest.slice(1);
      continue;
    }
    const ref = readReference(rest);
    if (ref === undefined) {
      out += '$';
      continue;
    }
    rest = ref.rest;
    if (ref.name === '0') {
      out += match;
      checkWordLength(out);
    }
  }
  return out + rest;
}

/** `name` or `{name}` at the start of `text`, as Go's template parser reads it. */
function readReference(text: string): { name: string; rest: string } | undefined {
  const braced = text.startsWith('{');
  const body = braced ? text.slice(1) : text;
  let end = 0;
  for (const ch of body) {
    if (!isNameChar(ch.codePointAt(0) ?? 0)) break;
    end += ch.length;
  }
  if (end === 0) return undefined;
  if (braced && body[end] !== '}') return undefined;
  return { name: body.slice(0, end), rest: body.slice(braced ? end + 1 : end) };
}
