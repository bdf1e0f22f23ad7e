/**
 * Go's path/filepath.Match on Unix, reproduced exactly: patternmatcher uses it
 * to decide which patterns are syntax errors (it matches each pattern against
 * "."), and fsutil uses it to expand wildcards in FollowPaths.
 *
 * Strings are handled as arrays of code points, which is what Go's rune
 * decoding sees for valid UTF-8.
 */

export type GoMatchResult = boolean | 'bad-pattern';

type Chars = readonly string[];

const BAD = 'bad-pattern';

interface Chunk {
  star: boolean;
  start: number;
  end: number;
}

/** Leading stars, then everything up to the next star outside a [...] class. */
function scanChunk(pat: Chars, from: number): Chunk {
  let p = from;
  let star = false;
  while (p < pat.length && pat[p] === '*') {
    p++;
    star = true;
  }
  let inRange = false;
  let i = p;
  scan: for (; i < pat.length; i++) {
    switch (pat[i]) {
      case '\\':
        if (i + 1 < pat.length) i++;
        break;
      case '[':
        inRange = true;
        break;
      case ']':
        inRange = false;
        break;
      case '*':
        if (!inRange) break scan;
        break;
      default:
        break;
    }
  }
  return { star, start: p, end: i };
}

/** One class bound, possibly escaped; the class must go on after it. */
function getEsc(pat: Chars, at: number, end: number): { cp: number; next: number } | typeof BAD {
  let i = at;
  const first = pat[i];
  if (i >= end || first === '-' || first === ']') return BAD;
  if (first === '\\') {
    i++;
    if (i >= end) return BAD;
  }
  const cp = (pat[i] as string).codePointAt(0) as number;
  i++;
  if (i >= end) return BAD;
  return { cp, next: i };
}

/**
 * Matches one chunk at the start of name[at..]. Returns the index after the
 * match, false when it does not match, BAD when the chunk is malformed. Like
 * Go it keeps scanning a failed chunk so that syntax errors are always found.
 */
function matchChunk(pat: Chars, start: number, end: number, name: Chars, at: number): number | false | typeof BAD {
  let failed = false;
  let s = at;
  let c = start;
  while (c < end) {
    if (!failed && s >= name.length) failed = true;
    const ch = pat[c] as string;
    if (ch === '[') {
      let r = -1;
      if (!failed) {
        r = (name[s] as string).codePointAt(0) as number;
        s++;
      }
      c++;
      let negated = false;
      if (c < end && pat[c] === '^') {
        negated = true;
        c++;
      }
      let match = false;
      let nrange = 0;
      for (;;) {
        if (c < end && pat[c] === ']' && nrange > 0) {
          c++;
          break;
        }
        const lo = getEsc(pat, c, end);
        if (lo === BAD) return BAD;
        c = lo.next;
        let hi = lo.cp;
        if (pat[c] === '-') {
          const h = getEsc(pat, c + 1, end);
          if (h === BAD) return BAD;
          c = h.next;
          hi = h.cp;
        }
        if (lo.cp <= r && r <= hi) match = true;
        nrange++;
      }
      if (match === negated) failed = true;
    } else if (ch === '?') {
      if (!failed) {
        if (name[s] === '/') failed = true;
        s++;
      }
      c++;
    } else {
      if (ch === '\\') {
        c++;
        if (c >= end) return BAD;
      }
      if (!failed) {
        if (pat[c] !== name[s]) failed = true;
        s++;
      }
      c++;
    }
  }
  return failed ? false : s;
}

export function goFilepathMatch(pattern: string, name: string): GoMatchResult {
  const pat = Array.from(pattern);
  const nm = Array.from(name);
  let p = 0;
  let n = 0;
  outer: while (p < pat.length) {
    const chunk = scanChunk(pat, p);
    p = chunk.end;
    if (chunk.star && chunk.start === chunk.end) {
      // A trailing star matches the rest unless it holds a separator.
      return !nm.slice(n).includes('/');
    }
    const t = matchChunk(pat, chunk.start, chunk.end, nm, n);
    if (typeof t === 'number' && (t === nm.length || p < pat.length)) {
      n = t;
      continue;
    }
    if (t === BAD) return BAD;
    if (chunk.star) {
      for (let i = n; i < nm.length && nm[i] !== '/'; i++) {
        const t2 = matchChunk(pat, chunk.start, chunk.end, nm, i + 1);
        if (typeof t2 === 'number') {
          if (p >= pat.length && t2 < nm.length) continue;
          n = t2;
          continue outer;
        }
        if (t2 === BAD) return BAD;
      }
    }
    // No match; still report a syntax error in the rest of the pattern.
    while (p < pat.length) {
      const rest = scanChunk(pat, p);
      p = rest.end;
      if (matchChunk(pat, rest.start, rest.end, [], 0) === BAD) return BAD;
    }
    return false;
  }
  return n === nm.length;
}
