import { existsSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { DockerfileError } from '../../../../src/dockerfile/errors.js';
import { dumpAst, parseDockerfile } from '../../../../src/dockerfile/parser/index.js';
import { caseDirectories, conformancePath, readConformance } from './conformance.js';

describe('BuildKit parser golden files (buildkit-parser/)', () => {
  const cases = caseDirectories('buildkit-parser/');

  test('the folder holds the 33 upstream cases', () => {
    expect(existsSync(conformancePath('buildkit-parser/SOURCE.md'))).toBe(true);
    expect(cases).toHaveLength(33);
  });

  test.each(cases)('%s', (name) => {
    const parsed = parseDockerfile(readConformance(`buildkit-parser/${name}/Dockerfile`), 'Dockerfile');
    expect(dumpAst(parsed)).toBe(readConformance(`buildkit-parser/${name}/result`));
  });
});

describe('BuildKit parser negative cases (buildkit-parser-negative/)', () => {
  const cases = caseDirectories('buildkit-parser-negative/');

  test('the folder holds the 4 upstream cases', () => {
    expect(cases).toEqual(['empty_dockerfile', 'env_no_value', 'only_comments', 'shykes-nested-json']);
  });

  test.each(cases)('%s fails to parse', (name) => {
    const text = readConformance(`buildkit-parser-negative/${name}/Dockerfile`);
    expect(() => parseDockerfile(text, 'Dockerfile')).toThrow(DockerfileError);
  });

  test('the reasons are BuildKit\'s', () => {
    const message = (name: string): string => {
      try {
        parseDockerfile(readConformance(`buildkit-parser-negative/${name}/Dockerfile`), 'Dockerfile');
      } catch (err) {
        if (err instanceof DockerfileError) return err.detail;
      }
      return 'no error';
    };
    expect(message('empty_dockerfile')).toBe('file with no instructions');
    expect(message('only_comments')).toBe('file with no instructions');
    expect(message('env_no_value')).toBe('ENV must have two arguments');
    expect(message('shykes-nested-json')).toBe('when using JSON array syntax, arrays must be comprised of strings only');
  });
});
