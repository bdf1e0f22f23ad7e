/** Words and numbers every progress renderer writes the same way. */
import type { BaseStart, BuildEvent, BuildNote, OutputStart, StepStart, Transfer } from '../../src/builder/events.js';
import { redactText } from '../../src/redact.js';

/** Whatever turns build events into output. */
export interface ProgressRenderer {
  event(event: BuildEvent): void;
  /** The build is over: show the final state (and whether it `failed`) and stop any timer. Once; later calls do nothing. */
  end(failed?: boolean): void;
}

/** BuildKit's step name: `[2/5]`, or `[builder 2/5]` in a named stage. */
/** `note: RUN steps use --isolation userns: ...`: information, not a warning. */
export function formatNote(e: Pick<BuildNote, 'message'>): string {
  return `note: ${e.message}`;
}

export function stepName(e: Pick<StepStart, 'label' | 'index' | 'total'>): string {
  return `[${e.label === undefined ? '' : `${e.label} `}${e.index}/${e.total}]`;
}

/** The first line of an instruction (a heredoc's body stays out of a one-line display). */
export function instructionLine(text: string): string {
  const nl = text.indexOf('\n');
  return nl < 0 ? text : `${text.slice(0, nl)} ...`;
}

/** `[2/5] COPY . /app`; a URL's credentials (ADD https://user:pass@...) never reach a log. */
export function stepTitle(e: StepStart): string {
  return `${stepName(e)} ${redactText(instructionLine(e.instruction))}`;
}

/** A base image being opened, as BuildKit says it. */
export function baseTitle(e: Pick<BaseStart, 'ref'>): string {
  return `load metadata for ${redactText(e.ref)}`;
}

/** What an output does (`pushing registry.example.com/app:1`), with any credential masked. */
export function outputTitle(e: Pick<OutputStart, 'description'>): string {
  return redactText(e.description);
}

/** Decimal units, as docker and buildx print sizes: 512B, 1.05kB, 52.43MB. */
export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${value}B` : `${value.toFixed(2)}${units[unit]}`;
}

export function formatDuration(ms: number): string {
  return `${(Math.max(0, ms) / 1000).toFixed(1)}s`;
}

/** `sha256:` and the first 12 hex digits: enough to tell blobs apart on screen. */
export function shortDigest(id: string): string {
  const m = /^(sha256:[0-9a-f]{12})[0-9a-f]*$/.exec(id);
  return m?.[1] ?? id;
}

/** `download sha256:abc123def456`, `compress layer`. */
export function transferName(t: Pick<Transfer, 'action' | 'id'>): string {
  return t.action === 'compress' ? 'compress layer' : `${t.action} ${shortDigest(t.id)}`;
}

/** `10.49MB / 52.43MB`, or just the bytes when the total is unknown. */
export function transferAmount(t: Pick<Transfer, 'current' | 'total'>): string {
  return t.total === undefined ? formatBytes(t.current) : `${formatBytes(t.current)} / ${formatBytes(t.total)}`;
}

/**
 * A layer's compression that ended within this time is not worth a line
 * of its own once it is over: the step's line already gives the layer's size.
 */
export const BRIEF_TRANSFER_MS = 1000;

/** Whether a finished transfer, first seen at `firstSeen`, keeps its line in the log. */
export function keepsFinalLine(t: Pick<Transfer, 'action' | 'time'>, firstSeen: number): boolean {
  return t.action !== 'compress' || t.time - firstSeen >= BRIEF_TRANSFER_MS;
}

/** How a finished transfer ended, in a word. */
export function transferOutcome(t: Pick<Transfer, 'status'>): string {
  return t.status === 'exists' ? 'already there' : t.status === 'mounted' ? 'mounted' : 'done';
}

/** A step error's message as shown in progress (the CLI prints the full error, with its hint, at the end). */
export function errorText(message: string): string {
  return redactText(message.split('\n')[0] ?? '');
}
