import { describe, expect, test } from 'vitest';
import { DockerfileError } from '../../../../src/dockerfile/errors.js';
import { parseDockerfile } from '../../../../src/dockerfile/parser/index.js';

function failure(text: string): DockerfileError {
  try {
    parseDockerfile(text, 'app/Dockerfile');
  } catch (err) {
    if (err instanceof DockerfileError) return err;
    throw err;
  }
  throw new Error('expected a DockerfileError');
}

describe('errors carry FILE:LINE', () => {
  test('ENV without a value', () => {
    const err = failure('FROM x\n\nENV PATH\n');
    expect(err.message).toBe('app/Dockerfile:3: ENV must have two arguments');
    expect(err.location).toEqual({ file: 'app/Dockerfile', line: 3, endLine: 3 });
  });

  test('LABEL without a value, continued over two lines', () => {
    const err = failure('FROM x\nLABEL \\\n  only-a-name\nRUN true\n');
    expect(err.message).toBe('app/Dockerfile:2: LABEL must have two arguments');
    expect(err.location).toEqual({ file: 'app/Dockerfile', line: 2, endLine: 3 });
  });

  test('name=value form with a bare word', () => {
    expect(failure('FROM x\nENV a=b c\n').message).toBe(
      'app/Dockerfile:2: Syntax error - can\'t find = in "c". Must be of the form: name=value',
    );
  });

  test('valid JSON that is not an array of strings', () => {
    const err = failure('FROM x\nRUN true\nENTRYPOINT ["a", 1]\n');
    expect(err.message).toBe('app/Dockerfile:3: when using JSON array syntax, arrays must be comprised of strings only');
    expect(failure('FROM x\nCOPY ["a", null]\n').location?.line).toBe(2);
    expect(failure('FROM x\nHEALTHCHECK CMD [true]\n').location?.line).toBe(2);
  });

  test('unterminated heredoc spans to the end of the file', () => {
    const err = failure('FROM x\nRUN <<EOF\necho hi\n');
    expect(err.message).toBe('app/Dockerfile:2: unterminated heredoc');
    expect(err.location).toEqual({ file: 'app/Dockerfile', line: 2, endLine: 3 });
    expect(err.code).toBe('UNTERMINATED_HEREDOC');
  });

  test('no instructions', () => {
    expect(failure('').code).toBe('EMPTY_DOCKERFILE');
    expect(failure('# just a comment\n\n   \n# syntax=x\n').message).toBe('app/Dockerfile:4: file with no instructions');
  });

  test('a line longer than bufio.Scanner allows', () => {
    const err = failure(`FROM x\nRUN ${'a'.repeat(70_000)}\n`);
    expect(err.message).toBe('app/Dockerfile:2: dockerfile line greater than max allowed size of 65535');
    expect(() => parseDockerfile(`FROM x\nRUN ${'a'.repeat(60_000)}\n`, 'Dockerfile')).not.toThrow();
  });
});

describe('parser directives', () => {
  test('syntax, escape and check, names in any case', () => {
    const parsed = parseDockerfile('# SYNTAX = docker/dockerfile:1   \n#Escape=`\n# check=skip=JSONArgsRecommended\nFROM x\n', 'Dockerfile');
    expect(parsed.directives).toEqual({ syntax: 'docker/dockerfile:1', escape: '`', check: 'skip=JSONArgsRecommended' });
    expect(parsed.startLine).toBe(4);
  });

  test('a repeated directive is an error at its line', () => {
    expect(failure('# syntax=a\n# syntax=b\nFROM x\n').message).toBe('app/Dockerfile:2: only one syntax parser directive can be used');
    expect(failure('# escape=`\n# ESCAPE=\\\nFROM x\n').message).toBe('app/Dockerfile:2: only one escape parser directive can be used');
  });

  test('an invalid escape token is an error', () => {
    const err = failure('# escape=x\nFROM x\n');
    expect(err.message).toBe("app/Dockerfile:1: invalid escape token 'x' does not match ` or \\");
    expect(err.code).toBe('BAD_DIRECTIVE');
  });

  test.each([
    ['a plain comment', '# hello\n# escape=`\nFROM x\n'],
    ['a blank line', '\n# escape=`\nFROM x\n'],
    ['an unknown directive', '# foo=bar\n# escape=`\nFROM x\n'],
    ['an instruction', 'FROM x\n# escape=`\nRUN a\n'],
  ])('directives stop at %s', (_what, text) => {
    expect(parseDockerfile(text, 'Dockerfile').directives).toEqual({ escape: '\\' });
  });

  test('a directive-like comment after an instruction is not checked for repeats', () => {
    expect(() => parseDockerfile('# escape=\\\nFROM x\n# escape=\\\n# escape=`\n', 'Dockerfile')).not.toThrow();
  });

  test('a byte-order mark before the first directive is ignored', () => {
    const parsed = parseDockerfile('\uFEFF# escape=`\nFROM `\n  x\n', 'Dockerfile');
    expect(parsed.directives.escape).toBe('`');
    expect(parsed.instructions[0]?.args).toEqual(['x']);
  });
});

describe('escape character and continuations', () => {
  test('with escape=` a backslash is an ordinary character', () => {
    const parsed = parseDockerfile('# escape=`\nFROM x\nWORKDIR C:\\app\nRUN dir `\n  C:\\ \nENV A=C:\\x\\\n', 'Dockerfile');
    expect(parsed.instructions.map((n) => n.args)).toEqual([['x'], ['C:\\app'], ['dir   C:\\'], ['A', 'C:\\x\\', '=']]);
    expect(parsed.instructions[2]).toMatchObject({ startLine: 4, endLine: 5, original: 'RUN dir   C:\\ ' });
  });

  test('an escaped escape at the end of a line does not continue it', () => {
    const parsed = parseDockerfile('FROM x\nRUN echo \\\\\nRUN next\n', 'Dockerfile');
    expect(parsed.instructions.map((n) => n.args)).toEqual([['x'], ['echo \\\\'], ['next']]);
  });

  test('blanks after the escape still continue the line', () => {
    const parsed = parseDockerfile('FROM x\nRUN a \\ \t\n  b\n', 'Dockerfile');
    expect(parsed.instructions[1]?.args).toEqual(['a   b']);
  });

  test('continuation at end of file', () => {
    const parsed = parseDockerfile('FROM x\nRUN a \\', 'Dockerfile');
    expect(parsed.instructions[1]).toMatchObject({ args: ['a'], original: 'RUN a ', startLine: 2, endLine: 2 });
  });
});

describe('empty continuation line warnings', () => {
  test('a blank line inside a continuation is skipped with a warning', () => {
    const parsed = parseDockerfile('FROM x\nRUN a \\\n\n   \n  b\nRUN c\n', 'Dockerfile');
    expect(parsed.instructions[1]).toMatchObject({ args: ['a   b'], startLine: 2, endLine: 5 });
    expect(parsed.warnings).toEqual([
      {
        code: 'NoEmptyContinuation',
        message: 'Empty continuation line found in: RUN a   b',
        location: { file: 'Dockerfile', line: 2, endLine: 5 },
      },
    ]);
  });

  test('comment lines inside a continuation are skipped without a warning', () => {
    const parsed = parseDockerfile('FROM x\nRUN a \\\n# note\n  # indented note\n  b\n', 'Dockerfile');
    expect(parsed.instructions[1]?.args).toEqual(['a   b']);
    expect(parsed.warnings).toEqual([]);
  });

  test('one warning per instruction', () => {
    const parsed = parseDockerfile('FROM x \\\n\n  AS a\nRUN a \\\n\n b \\\n\n c\n', 'Dockerfile');
    expect(parsed.warnings.map((w) => w.location?.line)).toEqual([1, 4]);
  });
});
