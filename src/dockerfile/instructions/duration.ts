/** Go's time.ParseDuration, returning nanoseconds. Throws a plain Error with Go's wording. */
const UNIT_NS: Readonly<Record<string, number>> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3,
  'μs': 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

export function parseGoDuration(text: string): number {
  const bad = (): Error => new Error(`time: invalid duration ${JSON.stringify(text)}`);
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    sign = rest.startsWith('-') ? -1 : 1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') throw bad();
  let total = 0;
  const part = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;
  while (rest !== '') {
    const m = part.exec(rest);
    if (!m) {
      const unit = /^(?:\d+(?:\.\d*)?|\.\d+)([^\d.]*)/.exec(rest);
      if (!unit) throw bad();
      if (unit[1] === '') throw new Error(`time: missing unit in duration ${JSON.stringify(text)}`);
      throw new Error(`time: unknown unit ${JSON.stringify(unit[1])} in duration ${JSON.stringify(text)}`);
    }
    total += Number(m[1]) * (UNIT_NS[m[2] as string] as number);
    rest = rest.slice(m[0].length);
  }
  return sign * Math.round(total);
}
