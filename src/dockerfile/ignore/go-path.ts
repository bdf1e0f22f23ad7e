/**
 * The few Go standard-library string and path functions that .dockerignore
 * semantics are defined in terms of (Unix flavour: '/' is the separator).
 * Docker's behaviour is "whatever these do", so they are reproduced exactly
 * rather than approximated with node:path.
 */

/** Go's unicode.IsSpace: differs from JS `\s` (no U+FEFF, but U+0085). */
function isGoSpace(ch: string): boolean {
  switch (ch) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case '\u0085':
    case '\u00a0':
    case '\u1680':
    case '\u2028':
    case '\u2029':
    case '\u202f':
    case '\u205f':
    case '\u3000':
      return true;
    default:
      return ch >= '\u2000' && ch <= '\u200a';
  }
}

/** strings.TrimSpace */
export function goTrimSpace(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isGoSpace(s.charAt(start))) start++;
  while (end > start && isGoSpace(s.charAt(end - 1))) end--;
  return s.slice(start, end);
}

/** path/filepath.Clean on Unix. */
export function goClean(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      const last = out[out.length - 1];
      if (last !== undefined && last !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(seg);
  }
  const joined = out.join('/');
  if (rooted) return `/${joined}`;
  return joined === '' ? '.' : joined;
}

/** path/filepath.Dir on Unix: everything up to the last '/', cleaned. */
export function goDir(p: string): string {
  return goClean(p.slice(0, p.lastIndexOf('/') + 1));
}
