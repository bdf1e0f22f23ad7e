/**
 * The few Go standard-library string and path functions that .dockerignore
 * semantics are defined in terms of (Unix flavour: '/' is the separator).
 * Docker's behaviour is "whatever these do", so they are reproduced exactly
 * rather than approximated with node:path.
 */

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
