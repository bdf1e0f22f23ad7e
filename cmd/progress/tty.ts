/**
 * `--progress tty`: a live view, redrawn at most ten times a second.
 *
 *    => [1/3] FROM registry.example.com/base                      0.0s
 *    => [2/3] COPY big /data                          20.10MB     3.2s
 *    => [3/3] COPY app /app                                       1.4s
 *    => => compress layer [=========>          ] 4.19MB / 8.39MB
 *    => [4/5] RUN make                                           2.0s
 *    => => # cc -c main.c
 *   [+] Building 4.9s (2/3)
 *
 * A running RUN shows its last few output lines under it, as BuildKit's
 * view does; they go when the step ends (`--progress plain` keeps them all,
 * and a failed step's error repeats its last lines).
 *
 * Finished steps are printed once, above the live area, and stay there; the
 * live area (running steps, their transfers, and the status line) is drawn
 * again over itself. It never grows past the terminal's height and no line
 * is wider than the terminal, so cursor movement always lands where it
 * should; a warning is printed above the live area, never into it. A
 * compression that took less than a second leaves no line once its step is
 * done.
 */
import type { BuildEvent, Transfer } from '../../src/builder/events.js';
import { formatWarning } from '../common-options.js';
import {
  baseTitle,
  errorText,
  formatBytes,
  formatDuration,
  formatNote,
  keepsFinalLine,
  outputTitle,
  stepTitle,
  transferAmount,
  transferName,
  transferOutcome,
  type ProgressRenderer,
} from './format.js';

export interface Terminal {
  write(chunk: string): void;
  readonly columns: number;
  readonly rows: number;
}

export interface TtyOptions {
  color: boolean;
  now?: () => number;
  /** Least time between two redraws. */
  intervalMs?: number;
  /** Redraw on a timer too, so that running times tick (off in tests, which drive the clock). */
  tick?: boolean;
}

interface Vertex {
  title: string;
  start: number;
  end?: number;
  state: 'running' | 'done' | 'cached' | 'error' | 'canceled';
  detail?: string;
  /** Each transfer's latest report, and when it was first seen. */
  transfers: Map<string, { latest: Transfer; first: number }>;
  /** The last lines the step printed (RUN), made safe to draw. */
  logs: string[];
}

const ESC = '\x1b[';
const BAR_WIDTH = 20;
/** Output lines shown under a running step, as many as BuildKit shows. */
const LOG_LINES = 6;

export class TtyRenderer implements ProgressRenderer {
  /** Steps and outputs not yet printed for good, in the order they started. */
  private readonly live: Vertex[] = [];
  private readonly byStep = new Map<number, Vertex>();
  private readonly byOutput = new Map<number, Vertex>();
  private readonly byBase = new Map<number, Vertex>();
  /** Lines to print above the live area at the next redraw. */
  private readonly settled: string[] = [];
  private liveLines = 0;
  private lastDraw = Number.NEGATIVE_INFINITY;
  private dirty = false;
  private started: number | undefined;
  private stepsKnown = 0;
  private stepsDone = 0;
  private failed = false;
  private interrupted = false;
  private ended = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly intervalMs: number;

  constructor(
    private readonly term: Terminal,
    private readonly options: TtyOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.intervalMs = options.intervalMs ?? 100;
  }

  event(e: BuildEvent): void {
    this.started ??= e.time;
    if (this.timer === undefined && this.options.tick !== false && !this.interrupted && !this.ended) {
      this.timer = setInterval(() => this.draw(), this.intervalMs);
      this.timer.unref();
    }
    this.apply(e);
    this.dirty = true;
    if (this.interrupted || this.ended) return; // end() shows the rest
    // Warnings and finished steps show at once; the rest waits for the next frame.
    if (e.type === 'warning' || e.type === 'note' || e.type === 'step-done' || e.type === 'step-error' || this.now() - this.lastDraw >= this.intervalMs) this.draw();
  }

  end(failed = false): void {
    if (this.ended) return;
    this.ended = true;
    this.stopTimer();
    if (this.started === undefined) return; // nothing was shown: nothing to finish
    if (failed) this.failed = true;
    for (const v of this.live) if (v.state === 'running') v.end = this.now();
    this.settle(this.live.length);
    this.draw(true);
  }

  /**
   * The build is being stopped (Ctrl-C): take the live area off the screen
   * at once, so that what is printed next lands under the finished steps
   * and not inside a frame the next redraw would overwrite. `end` draws the
   * final state.
   */
  interrupt(): void {
    this.stopTimer();
    this.interrupted = true;
    if (this.liveLines > 0) this.term.write(`\r${ESC}${this.liveLines}A${ESC}J`);
    this.liveLines = 0;
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private apply(e: BuildEvent): void {
    switch (e.type) {
      case 'stage-start':
        this.stepsKnown += e.steps;
        return;
      case 'step-start':
        this.add(this.byStep, e.step, stepTitle(e), e.time);
        return;
      case 'step-cached':
      case 'step-done':
      case 'step-error': {
        const v = this.byStep.get(e.step);
        if (v === undefined) return;
        v.end = e.time;
        this.stepsDone++;
        if (e.type === 'step-cached') v.state = 'cached';
        else if (e.type === 'step-error' && e.canceled) v.state = 'canceled';
        else if (e.type === 'step-done') {
          v.state = 'done';
          if (e.layer) v.detail = formatBytes(e.layer.size);
        } else {
          v.state = 'error';
          v.detail = errorText(e.message);
          this.failed = true;
        }
        return;
      }
      case 'step-log': {
        const v = this.byStep.get(e.step);
        if (v === undefined) return;
        v.logs.push(drawable(e.text));
        if (v.logs.length > LOG_LINES) v.logs.splice(0, v.logs.length - LOG_LINES);
        return;
      }
      case 'output-start':
        this.add(this.byOutput, e.output, outputTitle(e), e.time);
        return;
      case 'output-done':
        this.finish(this.byOutput.get(e.output), e.time);
        return;
      case 'base-start':
        this.add(this.byBase, e.base, baseTitle(e), e.time);
        return;
      case 'base-done':
        this.finish(this.byBase.get(e.base), e.time);
        return;
      case 'transfer': {
        const v = (e.step === undefined ? undefined : this.byStep.get(e.step)) ?? this.running();
        if (v === undefined) return;
        const key = `${e.action} ${e.id}`;
        v.transfers.set(key, { latest: e, first: v.transfers.get(key)?.first ?? e.time });
        return;
      }
      case 'warning':
        this.settled.push(this.paint('33', formatWarning(e)));
        return;
      case 'note':
        this.settled.push(formatNote(e));
        return;
    }
  }

  private finish(v: Vertex | undefined, time: number): void {
    if (v === undefined) return;
    v.end = time;
    v.state = 'done';
  }

  private add(index: Map<number, Vertex>, id: number, title: string, start: number): void {
    const v: Vertex = { title, start, state: 'running', transfers: new Map(), logs: [] };
    index.set(id, v);
    this.live.push(v);
  }

  /** The step or output a transfer without a step belongs to. */
  private running(): Vertex | undefined {
    for (let i = this.live.length - 1; i >= 0; i--) if (this.live[i]?.state === 'running') return this.live[i];
    return this.live[this.live.length - 1];
  }

  /** Move the first `count` live vertices (finished ones, in order) above the live area for good. */
  private settle(count: number): void {
    for (const v of this.live.splice(0, count)) this.settled.push(...this.vertexLines(v, true));
  }

  private draw(force = false): void {
    if (!this.dirty && !force && !this.live.some((v) => v.state === 'running')) return;
    let finished = 0;
    while (finished < this.live.length && this.live[finished]?.state !== 'running') finished++;
    this.settle(finished);
    const room = Math.max(2, this.term.rows - 1);
    // Overwrite the previous frame line by line (erasing each line's rest) rather than
    // erasing it first: the terminal never shows an empty frame, so nothing flickers.
    let out = this.liveLines > 0 ? `\r${ESC}${this.liveLines}A` : '';
    const liveArea = this.liveArea(room, force);
    for (const line of [...this.settled.splice(0), ...liveArea]) out += `${line}${ESC}K\n`;
    this.term.write(`${out}${ESC}J`);
    this.liveLines = force ? 0 : liveArea.length;
    this.lastDraw = this.now();
    this.dirty = false;
  }

  /** Running vertices with their transfers, cut to `room` lines, then the status line. */
  private liveArea(room: number, final: boolean): string[] {
    const lines = this.live.flatMap((v) => this.vertexLines(v, false));
    if (lines.length > room - 1) lines.splice(room - 2, lines.length, this.fit(` => ... ${lines.length - (room - 2)} more`));
    lines.push(this.statusLine(final));
    return lines;
  }

  private statusLine(final: boolean): string {
    const elapsed = formatDuration(this.now() - (this.started ?? this.now()));
    const count = `(${this.stepsDone}/${Math.max(this.stepsKnown, this.stepsDone)})`;
    const outcome = final ? (this.failed ? ' FAILED' : ' FINISHED') : '';
    const line = this.fit(`[+] Building ${elapsed} ${count}${outcome}`);
    return final && this.failed ? this.paint('31', line) : final ? this.paint('34', line) : line;
  }

  private vertexLines(v: Vertex, final: boolean): string[] {
    const elapsed = formatDuration((v.end ?? this.now()) - v.start);
    const prefix = v.state === 'error' ? ' => ERROR ' : v.state === 'cached' ? ' => CACHED ' : v.state === 'canceled' ? ' => CANCELED ' : ' => ';
    const right = v.state === 'error' || v.detail === undefined ? elapsed : `${v.detail}  ${elapsed}`;
    const head = this.columns(`${prefix}${v.title}`, right);
    const color = v.state === 'error' ? '31' : v.state === 'running' ? '' : '34';
    const lines = [this.paint(color, head)];
    for (const { latest: t, first } of v.transfers.values()) {
      if (final && t.status === 'running') continue; // interrupted: the step's own line says how it ended
      if (final && !keepsFinalLine(t, first)) continue;
      lines.push(this.paint(color, this.transferLine(t)));
    }
    if (v.state === 'running' && !final) for (const log of v.logs) lines.push(this.paint('2', this.fit(` => => # ${log}`)));
    if (v.state === 'error' && v.detail !== undefined) lines.push(this.paint('31', this.fit(` => ERROR: ${v.detail}`)));
    return lines;
  }

  /** ` => => download sha256:… [===>   ] 1.05MB / 5.24MB`; on a narrow terminal the bar goes before the numbers do. */
  private transferLine(t: Transfer): string {
    const head = ` => => ${transferName(t)} `;
    const withBar = `${head}${this.transferState(t, true)}`;
    return withBar.length <= this.width() ? withBar : this.fit(`${head}${this.transferState(t, false)}`);
  }

  private transferState(t: Transfer, bar: boolean): string {
    if (t.status !== 'running') return t.status === 'done' ? `${transferAmount(t)} ${transferOutcome(t)}` : transferOutcome(t);
    if (!bar || t.total === undefined || t.total === 0) return transferAmount(t);
    const filled = Math.min(BAR_WIDTH, Math.floor((t.current / t.total) * BAR_WIDTH));
    const drawn = filled >= BAR_WIDTH ? '='.repeat(BAR_WIDTH) : `${'='.repeat(filled)}>${' '.repeat(BAR_WIDTH - filled - 1)}`;
    return `[${drawn}] ${transferAmount(t)}`;
  }

  /** `left` and `right` on one line, `right` flush with the terminal's edge; `left` is cut if need be. */
  private columns(left: string, right: string): string {
    const width = this.width();
    const room = width - right.length - 1;
    const l = left.length > room ? `${left.slice(0, Math.max(0, room - 1))}…` : left;
    return `${l}${' '.repeat(Math.max(1, width - l.length - right.length))}${right}`;
  }

  /** Room on a line: one column short of the terminal's width, so that the cursor never wraps. */
  private width(): number {
    return Math.max(20, this.term.columns - 1);
  }

  /** Cut a line to the terminal's width: a wrapped line would throw the cursor arithmetic off. */
  private fit(line: string): string {
    const width = this.width();
    return line.length > width ? `${line.slice(0, width - 1)}…` : line;
  }

  private paint(code: string, text: string): string {
    return this.options.color && code !== '' ? `${ESC}${code}m${text}${ESC}0m` : text;
  }
}

/**
 * A line of a step's output as one line of plain text: what a carriage
 * return overwrote is dropped (progress bars), tabs become spaces, and
 * escape sequences and other control characters go, since they would move
 * the cursor or change colours inside the live area.
 */
function drawable(text: string): string {
  const segments = text.split('\r');
  const shown = segments.reverse().find((seg) => seg !== '') ?? '';
  return shown
    .replace(/\x1b\[[0-?]*[ -\/]*[@-~]/g, '')
    .replace(/\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?/g, '')
    .replace(/\t/g, '    ')
    .replace(/[\x00-\x1f\x7f-\x9f]/g, '');
}
