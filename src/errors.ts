/**
 * The error base every user-facing failure derives from. This module is a
 * leaf: it imports nothing from the project, so every layer may use it.
 *
 * `code` is stable and machine-readable; `hint` tells the user what to do.
 * The CLI maps HoistError subclasses to exit code 1 (2 for UsageError) and
 * anything else to an internal fault.
 */
export class HoistError extends Error {
  readonly code: string;
  readonly hint: string | undefined;

  constructor(code: string, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
  }
}

/** The command line itself is wrong (unknown flag, missing operand): exit code 2. */
export class UsageError extends HoistError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super('USAGE', message, options);
  }
}

/** A place in a source file, 1-based and inclusive. */
export interface SourceLocation {
  file: string;
  line: number;
  endLine?: number;
}

/** Something worth telling the user that does not stop the work. */
export interface Warning {
  code: string;
  message: string;
  location?: SourceLocation;
}

export function formatLocation(loc: SourceLocation): string {
  return `${loc.file}:${loc.line}`;
}
