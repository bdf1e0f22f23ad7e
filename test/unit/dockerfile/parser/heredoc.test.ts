import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import {
  chompHeredocContent,
  HeredocLexError,
  heredocsFromLine,
  parseDockerfile,
  parseHeredocWord,
  type Heredoc,
} from '../../../../src/dockerfile/parser/index.js';
import { readConformance } from './conformance.js';

interface UpstreamHeredoc {
  Name: string;
  Content: string;
  Expand: boolean;
  Chomp: boolean;
  FileDescriptor: number;
}

interface HelperTables {
  json_heredoc: { dockerfile: string };
  chomp: { input: string; expected: string }[];
  parse_heredoc_word: { valid_name_EOF: string[]; invalid_error: string[]; not_a_heredoc: string[] };
  heredocs_from_line: { cases: { line: string; heredocNames: string[] | null }[] };
}

const helpers = JSON.parse(readConformance('buildkit-parser-heredoc/heredoc-helpers.json')) as HelperTables;
const expectedFailures = JSON.parse(
  readFileSync(fileURLToPath(new URL('./expected-failures.json', import.meta.url)), 'utf8'),
) as { heredocs_from_line: Record<string, string> };

function fromUpstream(h: UpstreamHeredoc): Heredoc {
  return { name: h.Name, content: h.Content, expand: h.Expand, chomp: h.Chomp, fileDescriptor: h.FileDescriptor };
}

describe('TestParseExtractsHeredoc (extracts-heredoc)', () => {
  const expected = JSON.parse(readConformance('buildkit-parser-heredoc/extracts-heredoc.expected.json')) as {
    expected_heredocs_per_child: (UpstreamHeredoc[] | null)[];
  };
  const parsed = parseDockerfile(readConformance('buildkit-parser-heredoc/extracts-heredoc.Dockerfile'), 'Dockerfile');
  const rows = expected.expected_heredocs_per_child.map((want, i) => [i + 1, want] as const);

  test.each(rows)('child %i', (index, want) => {
    const child = parsed.instructions[index];
    expect(child).toBeDefined();
    expect(child?.heredocs).toEqual((want ?? []).map(fromUpstream));
  });

  test('USER <<INVALID is no heredoc, so INVALID is its own (unknown) instruction', () => {
    expect(parsed.instructions.slice(3, 5).map((n) => [n.keyword, n.args])).toEqual([
      ['user', ['<<INVALID']],
      ['invalid', ['']],
    ]);
  });

  test('heredoc bodies count in the line range', () => {
    const copy = parsed.instructions.find((n) => n.original === 'COPY <<FILE1 <<FILE2 /dest');
    expect(copy && [copy.startLine, copy.endLine]).toEqual([57, 61]);
    expect(copy?.args).toEqual(['<<FILE1', '<<FILE2', '/dest']);
  });
});

describe('TestParseJSONHeredoc (json-heredoc)', () => {
  test('exec form never starts a heredoc', () => {
    const parsed = parseDockerfile(readConformance(`buildkit-parser-heredoc/${helpers.json_heredoc.dockerfile}`), 'Dockerfile');
    expect(parsed.instructions).toHaveLength(4);
    for (const child of parsed.instructions.slice(1, 4)) {
      expect(child.json).toBe(true);
      expect(child.heredocs).toEqual([]);
    }
  });
});

describe('heredoc helpers (heredoc-helpers.json)', () => {
  test.each(helpers.chomp)('ChompHeredocContent $input', ({ input, expected }) => {
    expect(chompHeredocContent(input)).toBe(expected);
  });

  test.each(helpers.parse_heredoc_word.valid_name_EOF)('ParseHeredoc(%j) is named EOF', (word) => {
    expect(parseHeredocWord(word)?.name).toBe('EOF');
  });

  test.each(helpers.parse_heredoc_word.invalid_error)('ParseHeredoc(%j) errors', (word) => {
    expect(() => parseHeredocWord(word)).toThrow(HeredocLexError);
  });

  test.each(helpers.parse_heredoc_word.not_a_heredoc)('ParseHeredoc(%j) is not a heredoc', (word) => {
    expect(parseHeredocWord(word)).toBeNull();
  });

  const lineCases = helpers.heredocs_from_line.cases;

  // Upstream TestHeredocsFromLine checks each heredoc found against the name at its index.
  test.each(lineCases)('heredocsFromLine($line), as upstream asserts it', ({ line, heredocNames }) => {
    heredocsFromLine(line).forEach((doc, i) => expect(doc.name).toBe(heredocNames?.[i]));
  });

  const strict = lineCases.filter((c) => !(c.line in expectedFailures.heredocs_from_line));
  const known = lineCases.filter((c) => c.line in expectedFailures.heredocs_from_line);

  test.each(strict)('heredocsFromLine($line) finds exactly $heredocNames', ({ line, heredocNames }) => {
    expect(heredocsFromLine(line).map((d) => d.name)).toEqual(heredocNames ?? []);
  });

  test.each(known)('heredocsFromLine($line) still differs from the transcribed table (expected-failures.json)', ({ line, heredocNames }) => {
    expect(heredocsFromLine(line).map((d) => d.name)).not.toEqual(heredocNames ?? []);
  });
});

describe('heredoc details', () => {
  test('markers: fd, chomp, quoting', () => {
    expect(parseHeredocWord('3<<-"E O F"')).toEqual({ name: 'E O F', expand: false, chomp: true, fileDescriptor: 3 });
    expect(parseHeredocWord('<<eo\\\'f')).toEqual({ name: "eo'f", expand: true, chomp: false, fileDescriptor: 0 });
    expect(parseHeredocWord('<<${X:-a}')).toEqual({ name: '${X:-a}', expand: true, chomp: false, fileDescriptor: 0 });
  });

  test('a line the lexer cannot split has no heredocs', () => {
    expect(heredocsFromLine("RUN echo 'unclosed <<EOF")).toEqual([]);
    expect(heredocsFromLine('RUN echo ${ <<EOF')).toEqual([]);
  });

  test('<< followed by blanks joins the terminator word', () => {
    expect(heredocsFromLine('RUN cat <<  EOF > /x').map((d) => d.name)).toEqual(['EOF']);
    expect(heredocsFromLine('RUN cat << -EOF').map((d) => d.name)).toEqual(['-EOF']);
  });

  test('ONBUILD RUN carries heredocs; CRLF bodies are kept raw', () => {
    const parsed = parseDockerfile('FROM x\r\nONBUILD RUN <<EOF\r\necho hi\r\nEOF\r\nRUN ["a"]\r\n', 'Dockerfile');
    const onbuild = parsed.instructions[1];
    const body = { name: 'EOF', content: 'echo hi\r\n', expand: true, chomp: false, fileDescriptor: 0 };
    expect(onbuild?.heredocs).toEqual([body]);
    expect(onbuild?.onbuild?.heredocs).toEqual([body]);
    expect(onbuild && [onbuild.startLine, onbuild.endLine]).toEqual([2, 4]);
    expect(parsed.instructions[2]?.startLine).toBe(5);
  });

  test('<<- matches a tab-indented terminator; the body keeps its tabs', () => {
    const parsed = parseDockerfile('FROM x\nRUN <<-EOT\n\techo a\n\t\tEOT\n', 'Dockerfile');
    expect(parsed.instructions[1]?.heredocs[0]?.content).toBe('\techo a\n');
  });

  test('heredocs are not read for other instructions or exec form', () => {
    const parsed = parseDockerfile('FROM x\nCMD cat <<EOF\nEOF\n', 'Dockerfile');
    expect(parsed.instructions.map((n) => n.keyword)).toEqual(['from', 'cmd', 'eof']);
  });

  test('a body may end at the end of the file without a newline', () => {
    const parsed = parseDockerfile('FROM x\nCOPY <<A /a\nhello\nA', 'Dockerfile');
    expect(parsed.instructions[1]?.heredocs[0]?.content).toBe('hello\n');
    expect(parsed.endLine).toBe(4);
  });
});
