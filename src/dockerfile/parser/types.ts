import type { Warning } from '../../errors.js';

/** A here-document attached to RUN, COPY or ADD (BuildKit `parser.Heredoc`). */
export interface Heredoc {
  /** The terminator word with its quotes removed. */
  name: string;
  /** The raw body, line endings included; tabs are kept even when `chomp` is set. */
  content: string;
  /** False when any part of the terminator word was quoted: the body is not expanded. */
  expand: boolean;
  /** True for `<<-`: leading tabs are stripped from the body when it is used. */
  chomp: boolean;
  /** The number written before `<<` (`3<<EOF`), 0 when none. */
  fileDescriptor: number;
}

/** One instruction of the AST, the shape of a BuildKit `parser.Node` child. */
export interface InstructionNode {
  /** Instruction name in lower case (`from`, `run`, or an unknown word). */
  keyword: string;
  /** The `Next` values exactly as BuildKit's dispatch table produces them. */
  args: string[];
  /** Flag words (`--from=build`); a bare `--` ends the flags and is dropped. */
  flags: string[];
  /** The args came from a JSON array (exec form). */
  json: boolean;
  /** The logical line: continuations joined, the first line left-trimmed. */
  original: string;
  /** Heredoc bodies, only for RUN/COPY/ADD in shell form and ONBUILD of them. */
  heredocs: Heredoc[];
  /** For ONBUILD: the wrapped instruction (the ONBUILD node's own args are then empty). */
  onbuild?: InstructionNode;
  /** First physical line, 1-based, inclusive. */
  startLine: number;
  /** Last physical line (heredoc bodies included), 1-based, inclusive. */
  endLine: number;
}

/** Parser directives read from the top of the file. */
export interface Directives {
  syntax?: string;
  escape: '\\' | '`';
  check?: string;
}

export interface ParsedDockerfile {
  file: string;
  instructions: InstructionNode[];
  directives: Directives;
  warnings: Warning[];
  /** Start line of the first instruction. */
  startLine: number;
  /** End line of the last instruction. */
  endLine: number;
}
