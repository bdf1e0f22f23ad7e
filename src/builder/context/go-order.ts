/**
 * Go's string order (sort.Strings, os.ReadDir): byte order of UTF-8, which is
 * code point order. JavaScript's default sort compares UTF-16 code units,
 * which differs for characters above U+FFFF.
 */
export function compareGoStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i) as number;
    const y = b.codePointAt(i) as number;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}
