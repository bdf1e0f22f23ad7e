import type { SourceLocation } from '../../errors.js';
import { redactText } from '../../redact.js';
import type { EmitEvent } from '../events.js';
import type { PlannedStage } from '../plan/index.js';

export interface AddedLayer {
  digest: string;
  size: number;
}

/** How a step ends (StepTracker.start). */
export interface StepEnd {
  cached: boolean;
  layer?: Promise<AddedLayer> | undefined;
  settled?: Promise<void> | undefined;
}

/** One step as the metadata file reports it. */
export interface StepRecord {
  step: number;
  stage: number;
  /** e.g. `[builder 2/4]`, as progress shows it. */
  name: string;
  instruction: string;
  file: string;
  line: number;
  durationMs: number;
  /** The layer the step added. */
  layer?: AddedLayer | undefined;
  /** The step's result came from the build cache. */
  cached?: true;
}

export interface StepInfo {
  stage: number;
  label: string | undefined;
  index: number;
  total: number;
  instruction: string;
  location: SourceLocation;
}

/**
 * Numbers the steps of a build, times them, tells the event listener when
 * each starts and ends, and keeps what the metadata file reports.
 */
export class StepTracker {
  readonly records: StepRecord[] = [];
  private nextStep = 1;

  constructor(
    private readonly emit: EmitEvent,
    private readonly now: () => number = Date.now,
    /** Whether stage labels are needed: more than one stage is built. */
    private readonly stagesBuilt = 1,
  ) {}

  /** A stage's display label: its name, `stage-N` when several stages are built, or none. */
  label(stage: PlannedStage): string | undefined {
    return stage.name ?? (this.stagesBuilt > 1 ? `stage-${stage.index}` : undefined);
  }

  stageStart(stage: PlannedStage, steps: number): void {
    const base = stage.base.kind === 'scratch' ? 'scratch' : stage.base.kind === 'image' ? stage.base.ref : stage.from.image;
    this.emit({ type: 'stage-start', stage: stage.index, label: this.label(stage), base, steps });
  }

  /** Run one step that adds no layer: `fn` gets the step's number. */
  async run<T>(info: StepInfo, fn: (step: number) => Promise<T>): Promise<T> {
    const { result, finished } = await this.start(info, fn, () => ({ cached: false }));
    await finished;
    return result;
  }

  /**
   * Run one step whose work may end after `fn` resolves: `endOf` tells from
   * fn's result whether it came from the cache, the layer it added (its
   * digest once the blob is stored) and what else must settle (`settled`)
   * before the step is done. Resolves with fn's result as soon as fn does;
   * `finished` settles when the step is done (or rejects with its error,
   * once reported).
   */
  async start<T>(info: StepInfo, fn: (step: number) => Promise<T>, endOf: (result: T) => StepEnd): Promise<{ result: T; finished: Promise<void> }> {
    const step = this.nextStep++;
    const started = this.now();
    this.emit({ type: 'step-start', step, ...info });
    const failed = (err: unknown): never => {
      const canceled = (err as { code?: unknown } | undefined)?.code === 'STAGE_CANCELED';
      this.emit({ type: 'step-error', step, durationMs: this.now() - started, message: err instanceof Error ? err.message : String(err), ...(canceled ? { canceled } : {}) });
      throw err;
    };
    let result: T;
    try {
      result = await fn(step);
    } catch (err) {
      return failed(err);
    }
    const end = endOf(result);
    const finished = Promise.all([end.layer, end.settled]).then(([layer]) => this.done(step, info, started, layer, end.cached), failed);
    finished.catch(() => undefined);
    return { result, finished };
  }

  private done(step: number, info: StepInfo, started: number, layer: AddedLayer | undefined, cached: boolean): void {
    const durationMs = this.now() - started;
    // As BuildKit shows it: a cached step is CACHED, not done.
    if (cached) this.emit({ type: 'step-cached', step });
    else this.emit({ type: 'step-done', step, durationMs, ...(layer ? { layer } : {}) });
    const name = `[${info.label === undefined ? '' : `${info.label} `}${info.index}/${info.total}]`;
    this.records.push({
      step,
      stage: info.stage,
      name,
      // The metadata file is output: ADD https://user:pass@... keeps no credential there.
      instruction: redactText(info.instruction),
      file: info.location.file,
      line: info.location.line,
      durationMs,
      ...(layer ? { layer } : {}),
      ...(cached ? { cached: true as const } : {}),
    });
  }
}
