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

/** `err`, then its cause, the cause's cause and so on (at most 8: a cycle ends too). */
export function* causes(err: unknown): Generator<unknown> {
  let cur = err;
  for (let depth = 0; cur !== undefined && cur !== null && depth < 8; depth++) {
    yield cur;
    cur = (cur as { cause?: unknown }).cause;
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

/**
 * `err` told where it happened: a copy of the same class (so a RegistryError
 * keeps its status and OCI codes) whose message starts with `file:line: `.
 * An error that already names a place keeps it. `hint` replaces the hint.
 */
export function withLocation<E extends HoistError>(err: E, location: SourceLocation, options: { hint?: string } = {}): E {
  if (locationOf(err) !== undefined && options.hint === undefined) return err;
  const located = Object.create(Object.getPrototypeOf(err) as object) as E;
  for (const key of Reflect.ownKeys(err)) {
    Object.defineProperty(located, key, Object.getOwnPropertyDescriptor(err, key) as PropertyDescriptor);
  }
  const message = locationOf(err) === undefined ? `${formatLocation(location)}: ${err.message}` : err.message;
  if (options.hint !== undefined) Object.defineProperty(located, 'hint', { value: options.hint, writable: false, configurable: true, enumerable: true });
  Object.defineProperty(located, 'message', { value: message, writable: true, configurable: true, enumerable: false });
  if (locationOf(err) === undefined) Object.defineProperty(located, 'location', { value: location, writable: false, configurable: true, enumerable: true });
  if (err.stack !== undefined) {
    Object.defineProperty(located, 'stack', { value: err.stack.replace(err.message, message), writable: true, configurable: true, enumerable: false });
  }
  return located;
}

/** The Dockerfile place an error names, if any (a DockerfileError's, or one added by withLocation). */
export function locationOf(err: HoistError): SourceLocation | undefined {
  const location = (err as { location?: unknown }).location;
  return typeof location === 'object' && location !== null ? (location as SourceLocation) : undefined;
}
