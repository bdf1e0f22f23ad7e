import { DockerfileError } from '../errors.js';

/** bufio.Scanner's default token limit: BuildKit rejects longer lines. */
const MAX_LINE_BYTES = 64 * 1024 - 1;

/**
 * Splits text into physical lines, each keeping its `\n` (BuildKit's
 * `scanLines`), so heredoc bodies can be stored byte for byte. A UTF-8 BOM is
 * dropped from the first line.
 */
export function splitPhysicalLines(text: string): string[] {
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const lines: string[] = [];
  let start = 0;
  while (start < body.length) {
    const nl = body.indexOf('\n', start);
    const end = nl < 0 ? body.length : nl + 1;
    lines.push(body.slice(start, end));
    start = end;
  }
  return lines;
}

/** Go's `bytes.TrimRight(line, "\r\n")`. */
export function trimNewline(line: string): string {
  return line.replace(/[\r\n]+$/, '');
}

function utf8Length(s: string): number {
  // Cheap bound first: a UTF-16 unit never needs more than 3 UTF-8 bytes.
  if (s.length * 3 <= MAX_LINE_BYTES) return s.length;
  return new TextEncoder().encode(s).length;
}

/** Reads physical lines in order and knows the 1-based number of the last one read. */
export class LineCursor {
  private index = 0;

  constructor(
    private readonly lines: readonly string[],
    private readonly file: string,
  ) {}

  /** The number of the line last returned by `next()` (0 before the first). */
  get lineNumber(): number {
    return this.index;
  }

  next(): string | undefined {
    const line = this.lines[this.index];
    if (line === undefined) return undefined;
    this.index++;
    if (utf8Length(line.endsWith('\n') ? line.slice(0, -1) : line) > MAX_LINE_BYTES) {
      throw new DockerfileError(
        'DOCKERFILE_LINE_TOO_LONG',
        `dockerfile line greater than max allowed size of ${MAX_LINE_BYTES}`,
        { file: this.file, line: this.index },
      );
    }
    return line;
  }
}
