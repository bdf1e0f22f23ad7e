import { StringDecoder } from 'node:string_decoder';
import type { EmitEvent } from '../events.js';
import type { RunIo } from '../../run/index.js';

/** How much of a failed step's output its error repeats. */
const TAIL_BYTES = 4096;

/**
 * A step's output as it comes: one `step-log` event per line (a partial
 * line waits for its end, or for `flush`), and the last few KiB kept for
 * the error if the step fails.
 */
export class StepOutput {
  private readonly partial = { stdout: '', stderr: '' };
  /** A character split between two chunks is decoded whole, not as two replacement characters. */
  private readonly decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
  private recent = '';
  readonly io: RunIo;

  constructor(
    private readonly step: number,
    private readonly emit: EmitEvent,
  ) {
    this.io = { stdout: (c) => this.add('stdout', c), stderr: (c) => this.add('stderr', c) };
  }

  private add(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    const text = this.decoders[stream].write(chunk);
    this.recent = (this.recent + text).slice(-TAIL_BYTES);
    const lines = (this.partial[stream] + text).split('\n');
    this.partial[stream] = lines.pop() ?? '';
    for (const line of lines) this.emit({ type: 'step-log', step: this.step, stream, text: line });
  }

  flush(): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      this.partial[stream] += this.decoders[stream].end();
      if (this.partial[stream] !== '') this.emit({ type: 'step-log', step: this.step, stream, text: this.partial[stream] });
      this.partial[stream] = '';
    }
  }

  /** The end of what the step printed, trimmed. */
  tail(): string {
    return this.recent.trimEnd();
  }
}
