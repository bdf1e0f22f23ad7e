/**
 * `--progress plain`: one line per event, no control codes, for CI logs.
 * The shape is buildx's (each base image opened, step and output is a
 * vertex, numbered as it starts), with the step's place in the Dockerfile
 * added:
 *
 *   #3 [2/4] COPY big /data (Dockerfile:3)
 *   #3 compress layer 52.43MB / 52.43MB done
 *   #3 layer sha256:0a1b2c3d4e5f 20.10MB
 *   #3 DONE 3.2s
 *
 * A transfer in flight prints once it has taken a second, then at most once
 * a second; a short one prints only its last line, and a short compression
 * none (the step's `layer` line gives the size).
 */
import type { BuildEvent } from '../../src/builder/events.js';
import { formatLocation } from '../../src/errors.js';
import { formatWarning } from '../common-options.js';
import {
  baseTitle,
  errorText,
  formatBytes,
  formatDuration,
  formatNote,
  keepsFinalLine,
  outputTitle,
  shortDigest,
  stepTitle,
  transferAmount,
  transferName,
  transferOutcome,
  type ProgressRenderer,
} from './format.js';

const TRANSFER_INTERVAL_MS = 1000;

export class PlainRenderer implements ProgressRenderer {
  /** The vertex a transfer without a step belongs to: the step, output or base image being worked on. */
  private current: number | undefined;
  /** Vertices are numbered as they start: `step 3` -> #4 when one base image was opened first. */
  private readonly vertices = new Map<string, number>();
  /** Vertices numbered so far: a step started again (a build tried again after a lost cache layer) gets a new number. */
  private numbered = 0;
  /** When each running transfer was first seen and last printed. */
  private readonly transfers = new Map<string, { first: number; printed?: number }>();

  constructor(private readonly print: (line: string) => void) {}

  event(e: BuildEvent): void {
    switch (e.type) {
      case 'base-start':
        this.header(`base ${e.base}`, baseTitle(e));
        return;
      case 'base-done':
        this.line(`base ${e.base}`, `DONE ${formatDuration(e.durationMs)}`);
        return;
      case 'stage-start':
        return; // its FROM step follows
      case 'step-log':
        this.line(`step ${e.step}`, e.text);
        return;
      case 'step-start':
        this.header(`step ${e.step}`, `${stepTitle(e)} (${formatLocation(e.location)})`);
        return;
      case 'step-cached':
        this.line(`step ${e.step}`, 'CACHED');
        return;
      case 'step-done':
        if (e.layer) this.line(`step ${e.step}`, `layer ${shortDigest(e.layer.digest)} ${formatBytes(e.layer.size)}`);
        this.line(`step ${e.step}`, `DONE ${formatDuration(e.durationMs)}`);
        return;
      case 'step-error':
        this.line(`step ${e.step}`, e.canceled ? 'CANCELED' : `ERROR: ${errorText(e.message)}`);
        return;
      case 'output-start':
        this.header(`output ${e.output}`, outputTitle(e));
        return;
      case 'output-done':
        this.line(`output ${e.output}`, `DONE ${formatDuration(e.durationMs)}`);
        return;
      case 'transfer':
        this.transfer(e);
        return;
      case 'warning':
        this.print(formatWarning(e));
        return;
      case 'note':
        this.print(formatNote(e));
        return;
    }
  }

  end(): void {}

  private header(key: string, title: string): void {
    const vertex = ++this.numbered;
    if (vertex > 1) this.print('');
    this.vertices.set(key, vertex);
    this.current = vertex;
    this.print(`#${vertex} ${title}`);
  }

  private line(key: string, text: string): void {
    this.print(`#${this.vertices.get(key) ?? '?'} ${text}`);
  }

  private transfer(e: Extract<BuildEvent, { type: 'transfer' }>): void {
    const vertex = e.step === undefined ? this.current : this.vertices.get(`step ${e.step}`);
    if (vertex === undefined) return; // a base image's config, read before the first step: small, and no step to show it under
    const prefix = `#${vertex} `;
    const key = `${e.action} ${e.id}`;
    if (e.status === 'running') {
      const seen = this.transfers.get(key) ?? { first: e.time };
      this.transfers.set(key, seen);
      if (e.time - seen.first < TRANSFER_INTERVAL_MS) return;
      if (seen.printed !== undefined && e.time - seen.printed < TRANSFER_INTERVAL_MS) return;
      seen.printed = e.time;
      this.print(`${prefix}${transferName(e)} ${transferAmount(e)}`);
      return;
    }
    const first = this.transfers.get(key)?.first ?? e.time;
    this.transfers.delete(key);
    if (!keepsFinalLine(e, first)) return;
    const amount = e.status === 'done' ? `${transferAmount(e)} ` : '';
    this.print(`${prefix}${transferName(e)} ${amount}${transferOutcome(e)}`);
  }
}
