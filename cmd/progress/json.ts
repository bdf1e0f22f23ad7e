/**
 * `--progress json`: each event as one line of JSON, for tools. Fields are
 * those of `BuildEvent` (src/builder/events.ts); transfers come at most ten
 * times a second each, as the library reports them.
 */
import type { BuildEvent } from '../../src/builder/events.js';
import { redactText } from '../../src/redact.js';
import type { ProgressRenderer } from './format.js';

export class JsonRenderer implements ProgressRenderer {
  constructor(private readonly print: (line: string) => void) {}

  event(e: BuildEvent): void {
    this.print(JSON.stringify(redacted(e)));
  }

  end(): void {}
}

/** Credentials in a URL (ADD https://user:pass@...) never reach a log. */
function redacted(e: BuildEvent): BuildEvent {
  if (e.type === 'step-error') return { ...e, message: redactText(e.message) };
  if (e.type === 'step-start') return { ...e, instruction: redactText(e.instruction) };
  if (e.type === 'base-start') return { ...e, ref: redactText(e.ref) };
  if (e.type === 'output-start') return { ...e, description: redactText(e.description) };
  return e;
}
