import { describe, expect, test } from 'vitest';
import { parseIgnoreFile, readIgnoreFileLines } from '../../../../src/dockerfile/ignore/index.js';
import { loadConformance, type IgnoreFileCase } from './conformance.js';

const cases = loadConformance<IgnoreFileCase[]>('ignorefile-cases.json').map((c, i) => ({
  ...c,
  name: `${c.source} #${i + 1} ${c.input === null ? 'no file' : JSON.stringify(c.input)}`,
}));

describe('ignorefile.ReadAll ignorefile-cases.json', () => {
  test.each(cases)('$name', (c) => {
    expect(parseIgnoreFile(c.input)).toEqual(c.expected);
  });
});

describe('parseIgnoreFile details', () => {
  test('strips a UTF-8 BOM on the first line only', () => {
    expect(parseIgnoreFile('\ufeffa\n\ufeffb')).toEqual(['a', '\ufeffb']);
    expect(parseIgnoreFile('\ufeff#comment\nx')).toEqual(['x']);
  });

  test('only a "#" in the first column is a comment', () => {
    expect(parseIgnoreFile('#a\n  #b\n\t# c')).toEqual(['#b', '# c']);
  });

  test('CRLF line ends, blank lines and Go whitespace', () => {
    expect(parseIgnoreFile('a\r\n\r\n  b  \r\n\u00a0c\u0085\n')).toEqual(['a', 'b', 'c']);
    // U+FEFF is not Go whitespace: only the BOM at the very start is dropped.
    expect(parseIgnoreFile('x\n\ufeffy')).toEqual(['x', '\ufeffy']);
  });

  test('filepath.Clean, then one leading "/" removed, "!" re-added', () => {
    expect(parseIgnoreFile('./a/b/\n/x//y/../z\n!/keep/./me\n/\n!\n! \n..\n../up')).toEqual([
      'a/b',
      'x/z',
      '!keep/me',
      '/',
      '!',
      '!',
      '..',
      '../up',
    ]);
  });

  test('line numbers count every line, comments and blanks included', () => {
    expect(readIgnoreFileLines('# c\n\na\r\n  \nb')).toEqual([
      { pattern: 'a', line: 3 },
      { pattern: 'b', line: 5 },
    ]);
  });
});
