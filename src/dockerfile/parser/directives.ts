import { trimLeftGoSpace } from './chars.js';
import { excerpt } from './excerpt.js';
import type { Directives } from './types.js';

type DirectiveName = 'syntax' | 'escape' | 'check';
const KNOWN: ReadonlySet<string> = new Set<DirectiveName>(['syntax', 'escape', 'check']);

// Go's `\s` is [\t\n\f\r ] (no \v); `.` stops at newlines.
const DIRECTIVE = /^([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*([^\n]+?)[\t\n\f\r ]*$/;

/** A directive line that BuildKit rejects: the message is BuildKit's. */
export class DirectiveError extends Error {}

/**
 * Reads parser directives (`# syntax=`, `# escape=`, `# check=`) from the top
 * of a Dockerfile, one line at a time, as BuildKit's DirectiveParser does: the
 * first line that is not a known directive (a blank line, a plain comment, an
 * instruction) ends the directive block for good.
 */
export class DirectiveScanner {
  private done = false;
  private readonly values = new Map<DirectiveName, string>();

  /**
   * Looks at one line (newline removed, leading whitespace removed for a line
   * that starts an instruction). Returns true when the line was a directive.
   */
  scan(line: string): boolean {
    if (this.done) return false;
    if (!line.startsWith('#')) {
      this.done = true;
      return false;
    }
    const match = DIRECTIVE.exec(trimLeftGoSpace(line.slice(1)));
    const key = match?.[1]?.toLowerCase();
    const value = match?.[2];
    if (key === undefined || value === undefined || !KNOWN.has(key)) {
      this.done = true;
      return false;
    }
    const name = key as DirectiveName;
    if (this.values.has(name)) throw new DirectiveError(`only one ${name} parser directive can be used`);
    if (name === 'escape' && value !== '\\' && value !== '`') {
      throw new DirectiveError(`invalid escape token '${excerpt(value)}' does not match \` or \\`);
    }
    this.values.set(name, value);
    return true;
  }

  get escapeToken(): '\\' | '`' {
    return this.values.get('escape') === '`' ? '`' : '\\';
  }

  result(): Directives {
    const out: Directives = { escape: this.escapeToken };
    const syntax = this.values.get('syntax');
    const check = this.values.get('check');
    if (syntax !== undefined) out.syntax = syntax;
    if (check !== undefined) out.check = check;
    return out;
  }
}
