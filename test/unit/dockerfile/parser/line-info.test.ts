import { describe, expect, test } from 'vitest';
import { parseDockerfile } from '../../../../src/dockerfile/parser/index.js';
import { readConformance } from './conformance.js';

interface Range {
  startLine: number;
  endLine: number;
}

describe('TestParseIncludesLineNumbers (buildkit-parser-lineinfo)', () => {
  const expected = JSON.parse(readConformance('buildkit-parser-lineinfo/expected.json')) as {
    dockerfile: string;
    root: Range;
    children: (Range & { instruction: string })[];
  };
  const parsed = parseDockerfile(readConformance(`buildkit-parser-lineinfo/${expected.dockerfile}`), 'Dockerfile');

  test('root range', () => {
    expect({ startLine: parsed.startLine, endLine: parsed.endLine }).toEqual(expected.root);
  });

  test('node ranges', () => {
    expect(parsed.instructions.map((n) => ({ instruction: n.keyword.toUpperCase(), startLine: n.startLine, endLine: n.endLine }))).toEqual(
      expected.children,
    );
  });

  test('the blank lines inside the RUN continuation give one warning', () => {
    expect(parsed.warnings).toHaveLength(1);
    expect(parsed.warnings[0]?.code).toBe('NoEmptyContinuation');
    expect(parsed.warnings[0]?.location).toEqual({ file: 'Dockerfile', line: 17, endLine: 31 });
  });

  test('# ESCAPE=\\ on line 1 is a directive', () => {
    expect(parsed.directives).toEqual({ escape: '\\' });
  });
});
