import { CommanderError } from 'commander';
import { HoistError, UsageError } from '../src/errors.js';
import { redactText } from '../src/redact.js';

export const EXIT_USER_ERROR = 1;
export const EXIT_USAGE = 2;
/** BSD sysexits EX_SOFTWARE: hoist itself is at fault. */
export const EXIT_INTERNAL = 70;

export interface ErrorReport {
  exitCode: number;
  /** Lines for stderr; empty when the message was already printed (commander). */
  lines: string[];
}

/**
 * One place maps every failure to what the user sees and the exit code.
 * Credentials never reach the terminal, even inside an error from a
 * library: every line passes the redactor, with the `secrets` known to be
 * in use.
 */
export function reportError(err: unknown, debug: boolean, secrets: readonly string[] = []): ErrorReport {
  const redactCredentials = (text: string): string => redactText(text, secrets);
  if (err instanceof CommanderError) {
    const ok = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help';
    return { exitCode: ok ? 0 : EXIT_USAGE, lines: [] };
  }
  if (err instanceof HoistError) {
    const lines = [`error: ${redactCredentials(err.message)}`];
    if (err.hint) lines.push(`hint: ${redactCredentials(err.hint)}`);
    return { exitCode: err instanceof UsageError ? EXIT_USAGE : EXIT_USER_ERROR, lines };
  }
  const e = err instanceof Error ? err : new Error(String(err));
  const lines = [
    `internal error: ${redactCredentials(e.message)}`,
    'This is a bug in hoist, not in your input. Please report it with the command you ran' +
      (debug ? '.' : ' and the output of the same command with HOIST_DEBUG=1.'),
  ];
  if (debug && e.stack) lines.push(redactCredentials(e.stack));
  return { exitCode: EXIT_INTERNAL, lines };
}
