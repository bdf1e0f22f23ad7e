import { describe, expect, test } from 'vitest';
import { PatternMatcher, goClean, translatePattern } from '../../../../src/dockerfile/ignore/index.js';
import { loadConformance, type CompileCase } from './conformance.js';

const cases = loadConformance<CompileCase[]>('compile-cases.json').map((c) => ({
  ...c,
  name: `${JSON.stringify(c.pattern)} is ${c.matchType}${c.regexp ? ` ${c.regexp}` : ''}`,
}));

// Upstream also checks `windowsRegexp` (with "\" as the separator); hoist is Unix-only, so that column is not asserted.
describe('moby/patternmatcher compile-cases.json', () => {
  test.each(cases)('$name', (c) => {
    const got = translatePattern(goClean(c.pattern));
    expect(got.matchType).toBe(c.matchType);
    if (c.matchType === 'regexpMatch') expect(got.goRegexp).toBe(c.regexp);
    // And the pattern is usable: it compiles and a match call does not throw.
    expect(() => PatternMatcher.compile([c.pattern]).matchesOrParentMatches('x')).not.toThrow();
  });
});
