/** Apply a `--chmod` value (octal, or symbolic like u+x,go-w) to a mode. */
export function applyChmod(spec: string, mode: number, isDir: boolean): number {
  if (/^[0-7]+$/.test(spec)) return Number.parseInt(spec, 8) & 0o7777;
  let result = mode & 0o7777;
  for (const clause of spec.split(',')) {
    const m = /^([ugoa]*)(.*)$/.exec(clause) as RegExpExecArray;
    const who = m[1] === '' || (m[1] as string).includes('a') ? 'ugo' : (m[1] as string);
    const ops = (m[2] as string).matchAll(/([-+=])([rwxXst]*)/g);
    for (const [, op, perms = ''] of ops) {
      let bits = 0;
      for (const w of who) {
        const shift = w === 'u' ? 6 : w === 'g' ? 3 : 0;
        if (perms.includes('r')) bits |= 4 << shift;
        if (perms.includes('w')) bits |= 2 << shift;
        if (perms.includes('x') || (perms.includes('X') && (isDir || (mode & 0o111) !== 0))) bits |= 1 << shift;
        if (perms.includes('s') && w === 'u') bits |= 0o4000;
        if (perms.includes('s') && w === 'g') bits |= 0o2000;
      }
      if (perms.includes('t')) bits |= 0o1000;
      if (op === '+') result |= bits;
      else if (op === '-') result &= ~bits;
      else {
        let mask = 0;
        for (const w of who) mask |= 0o7 << (w === 'u' ? 6 : w === 'g' ? 3 : 0);
        result = (result & ~mask) | bits;
      }
    }
  }
  return result;
}
