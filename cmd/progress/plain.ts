/**
 * `--progress plain`: one line per event, no control codes, for CI logs.
 * The shape is buildx's (each step or output is a numbered vertex), with the
 * step's place in the Dockerfile added:
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
  errorText,
  formatBytes,
  formatDuration,
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
  /** The vertex a transfer without a step belongs to: the step or output running. */
  private current: number | undefined;
  private lastStep = 0;
  private headers = 0;
  /** When each running transfer was first seen and last printed. */
  private readonly transfers = new Map<string, { first: number; printed?: number }>();

  constructor(private readonly print: (line: string) => void) {}

  event(e: BuildEvent): void {
    switch (e.type) {
      case 'stage-start':
        return; // its FROM step follows
      case 'step-log':
        this.print(`#${e.step} ${e.text}`);
        return;
      case 'step-start':
        this.lastStep = e.step;
        this.header(e.step, `${stepTitle(e)} (${formatLocation(e.location)})`);
        return;
      case 'step-cached':
        this.print(`#${e.step} CACHED`);
        return;
      case 'step-done':
        if (e.layer) this.print(`#${e.step} layer ${shortDigest(e.layer.digest)} ${formatBytes(e.layer.size)}`);
        this.print(`#${e.step} DONE ${formatDuration(e.durationMs)}`);
        return;
      case 'step-error':
        this.print(`#${e.step} ERROR: ${errorText(e.message)}`);
        return;
      case 'output-start':
        this.header(this.lastStep + e.output, outputTitle(e));
        return;
      case 'output-done':
        this.print(`#${this.lastStep + e.output} DONE ${formatDuration(e.durationMs)}`);
        return;
      case 'transfer':
        this.transfer(e);
        return;
      case 'warning':
        this.print(formatWarning(e));
        return;
    }
  }

  end(): void {}

  private header(vertex: number, title: string): void {
    if (this.headers++ > 0) this.print('');
    this.current = vertex;
    this.print(`#${vertex} ${title}`);
  }

  private transfer(e: Extract<BuildEvent, { type: 'transfer' }>): void {
    const vertex = e.step ?? this.current;
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
