import { describe, expect, test } from 'vitest';
import { dumpAst, goQuote, parseDockerfile, type InstructionNode } from '../../../../src/dockerfile/parser/index.js';
import { extractFlags } from '../../../../src/dockerfile/parser/split-command.js';

function only(text: string): InstructionNode {
  const node = parseDockerfile(text, 'Dockerfile').instructions[0];
  if (!node) throw new Error('no instruction');
  return node;
}

describe('instruction nodes', () => {
  test('FROM ... AS keeps the words as written', () => {
    expect(only('from --platform=$BUILDPLATFORM golang:1.22 AS Build')).toMatchObject({
      keyword: 'from',
      flags: ['--platform=$BUILDPLATFORM'],
      args: ['golang:1.22', 'AS', 'Build'],
      json: false,
    });
  });

  test('unknown instructions keep one empty arg', () => {
    const parsed = parseDockerfile('FROM x\nFOO bar baz\n', 'Dockerfile');
    expect(parsed.instructions[1]).toMatchObject({ keyword: 'foo', args: [''], original: 'FOO bar baz' });
    expect(dumpAst(parsed)).toBe('(from "x")\n(foo "")\n');
  });

  test('flags: quotes removed, bare -- dropped, flags only before the args', () => {
    expect(only('COPY --from=build --chown="a b" src --not-a-flag /dst')).toMatchObject({
      flags: ['--from=build', '--chown=a b'],
      args: ['src', '--not-a-flag', '/dst'],
    });
    expect(only('COPY -- --weird /dst')).toMatchObject({ flags: [], args: ['--weird', '/dst'] });
    expect(only('RUN --network=none --')).toMatchObject({ flags: ['--network=none'], args: [] });
    expect(extractFlags('--a=\\"x\\" rest')).toEqual({ flags: ['--a="x"'], rest: 'rest' });
  });

  test('exec form, shell form and invalid JSON', () => {
    expect(only('SHELL ["powershell", "-Command"]')).toMatchObject({ args: ['powershell', '-Command'], json: true });
    expect(only('CMD ["a", "b"] extra')).toMatchObject({ args: ['["a", "b"] extra'], json: false });
    expect(only('CMD [1e400]')).toMatchObject({ args: ['[1e400]'], json: false });
    expect(only('VOLUME ["/a", "/b"]')).toMatchObject({ args: ['/a', '/b'], json: true });
    expect(only('RUN ["\\ud800"]').args).toEqual(['\uFFFD']);
  });

  test('HEALTHCHECK: type word then the RUN rules', () => {
    expect(only('HEALTHCHECK NONE')).toMatchObject({ args: ['NONE'], json: false });
    expect(only('HEALTHCHECK --interval=5s CMD ["curl", "-f", "x"]')).toMatchObject({
      flags: ['--interval=5s'],
      args: ['CMD', 'curl', '-f', 'x'],
      json: true,
    });
  });

  test('ARG, LABEL, ENV keep quotes and escapes', () => {
    expect(only('ARG a="1 2" b c=')).toMatchObject({ args: ['a="1 2"', 'b', 'c='] });
    expect(only('LABEL "com.example.vendor"="ACME Inc" version=1.0')).toMatchObject({
      args: ['"com.example.vendor"', '"ACME Inc"', '=', 'version', '1.0', '='],
    });
    expect(only('ENV PATH /usr/local/bin:$PATH')).toMatchObject({ args: ['PATH', '/usr/local/bin:$PATH', ''] });
  });

  test('ONBUILD wraps an instruction; empty ONBUILD has none', () => {
    const node = only('ONBUILD COPY --from=x . /app');
    expect(node).toMatchObject({ keyword: 'onbuild', args: [], json: false });
    expect(node.onbuild).toMatchObject({ keyword: 'copy', flags: ['--from=x'], args: ['.', '/app'], original: 'COPY --from=x . /app' });
    expect(only('ONBUILD').onbuild).toBeUndefined();
    expect(dumpAst(parseDockerfile('ONBUILD COPY --from=x . /app\nONBUILD\n', 'D'))).toBe(
      '(onbuild (copy ["--from=x"] "." "/app"))\n(onbuild)\n',
    );
  });

  test('original is the logical line, first line left-trimmed', () => {
    expect(only('   RUN a \\\n    b   ').original).toBe('RUN a     b   ');
  });
});

describe('goQuote matches Go strconv.Quote', () => {
  test.each([
    ['plain', '"plain"'],
    ['q"b\\', '"q\\"b\\\\"'],
    ['\x07\b\f\n\r\t\v', '"\\a\\b\\f\\n\\r\\t\\v"'],
    ['\x00\x1b\x7f', '"\\x00\\x1b\\x7f"'],
    ['\u00a0\u200b\ue000', '"\\u00a0\\u200b\\ue000"'],
    ['♥ 한 😀 é', '"♥ 한 😀 é"'],
    ['\u{10FFFF}', '"\\U0010ffff"'],
  ])('%j', (input, quoted) => {
    expect(goQuote(input)).toBe(quoted);
  });
});
