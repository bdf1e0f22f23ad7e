import { describe, expect, it } from 'vitest';
import { parseGoDuration } from '../../../../src/dockerfile/instructions/duration.js';

describe('Go durations', () => {
  it.each([
    ['0', 0], ['30s', 30e9], ['1m30s', 90e9], ['1.5h', 5400e9], ['300ms', 3e8], ['2us', 2000], ['2µs', 2000], ['7ns', 7], ['-1s', -1e9], ['.5s', 5e8],
  ])('%s', (text, ns) => {
    expect(parseGoDuration(text)).toBe(ns);
  });

  it.each([
    ['', 'time: invalid duration ""'],
    ['5', 'time: missing unit in duration "5"'],
    ['5x', 'time: unknown unit "x" in duration "5x"'],
    ['s', 'time: invalid duration "s"'],
    ['1s2', 'time: missing unit in duration "1s2"'],
  ])('refuses %j', (text, message) => {
    expect(() => parseGoDuration(text)).toThrow(message);
  });
});
