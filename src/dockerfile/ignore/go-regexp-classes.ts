/**
 * RE2's named character classes as JavaScript `v`-mode class text, for
 * go-regexp.ts. Go's Perl and POSIX classes are ASCII-only, so they are
 * spelled out as ranges rather than mapped to JavaScript's `\d`, `\s`, `\w`.
 */

const PERL_CLASSES: Readonly<Record<string, string>> = {
  d: '\\u{30}-\\u{39}',
  s: '\\u{9}\\u{a}\\u{c}\\u{d}\\u{20}',
  w: '\\u{30}-\\u{39}\\u{41}-\\u{5a}\\u{5f}\\u{61}-\\u{7a}',
};

const POSIX_CLASSES: Readonly<Record<string, string>> = {
  alnum: '\\u{30}-\\u{39}\\u{41}-\\u{5a}\\u{61}-\\u{7a}',
  alpha: '\\u{41}-\\u{5a}\\u{61}-\\u{7a}',
  ascii: '\\u{0}-\\u{7f}',
  blank: '\\u{9}\\u{20}',
  cntrl: '\\u{0}-\\u{1f}\\u{7f}',
  digit: '\\u{30}-\\u{39}',
  graph: '\\u{21}-\\u{7e}',
  lower: '\\u{61}-\\u{7a}',
  print: '\\u{20}-\\u{7e}',
  punct: '\\u{21}-\\u{2f}\\u{3a}-\\u{40}\\u{5b}-\\u{60}\\u{7b}-\\u{7e}',
  space: '\\u{9}-\\u{d}\\u{20}',
  upper: '\\u{41}-\\u{5a}',
  word: '\\u{30}-\\u{39}\\u{41}-\\u{5a}\\u{5f}\\u{61}-\\u{7a}',
  xdigit: '\\u{30}-\\u{39}\\u{41}-\\u{46}\\u{61}-\\u{66}',
};

/** Go's unicode.Categories. Go's "C" has no unassigned code points, unlike JavaScript's. */
const CATEGORIES = new Set(
  'Cc Cf Co Cs L Ll Lm Lo Lt Lu M Mc Me Mn N Nd Nl No P Pc Pd Pe Pf Pi Po Ps S Sc Sk Sm So Z Zl Zp Zs'.split(' '),
);

/** `\d \D \s \S \w \W` as a class; null for any other letter. */
export function perlClass(letter: string): string | null {
  const lower = letter.toLowerCase();
  if (!'dsw'.includes(lower) || lower.length !== 1) return null;
  const ranges = PERL_CLASSES[lower] as string;
  return letter === lower ? `[${ranges}]` : `[^${ranges}]`;
}

/** The ranges of `[:name:]`; null when RE2 does not know the name. */
export function posixClassRanges(name: string): string | null {
  return Object.hasOwn(POSIX_CLASSES, name) ? (POSIX_CLASSES[name] as string) : null;
}

function isScript(name: string): boolean {
  try {
    new RegExp(`\\p{Script=${name}}`, 'v');
    return true;
  } catch {
    return false;
  }
}

/** `\p{name}`: Any, a general category or a script (checked against JavaScript's tables); null if unknown. */
export function unicodeClass(name: string): string | null {
  if (name === 'Any') return '[\\u{0}-\\u{10ffff}]';
  if (name === 'C') return '[\\p{Cc}\\p{Cf}\\p{Co}\\p{Cs}]';
  if (CATEGORIES.has(name)) return `\\p{${name}}`;
  if (/^[A-Z][A-Za-z]*(?:_[A-Z][A-Za-z]*)*$/.test(name) && isScript(name)) return `\\p{Script=${name}}`;
  return null;
}
