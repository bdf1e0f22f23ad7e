import type { SourceLocation } from '../../errors.js';
import { redactText } from '../../redact.js';
import type { EmitEvent } from '../events.js';
import type { PlannedStage } from '../plan/index.js';

export interface AddedLayer {
  digest: string;
  size: number;
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

  /** Run one step: `fn` gets the step's number; `layerOf` tells from its result which layer it added, `cachedOf` whether it came from the cache. */
  async run<T>(
    info: StepInfo,
    fn: (step: number) => Promise<T>,
    layerOf: (result: T) => AddedLayer | undefined = () => undefined,
    cachedOf: (result: T) => boolean = () => false,
  ): Promise<T> {
    const step = this.nextStep++;
    const started = this.now();
    this.emit({ type: 'step-start', step, ...info });
    let result: T;
    try {
      result = await fn(step);
    } catch (err) {
      const canceled = (err as { code?: unknown } | undefined)?.code === 'STAGE_CANCELED';
      this.emit({ type: 'step-error', step, durationMs: this.now() - started, message: err instanceof Error ? err.message : String(err), ...(canceled ? { canceled } : {}) });
      throw err;
    }
    const durationMs = this.now() - started;
    const layer = layerOf(result);
    const cached = cachedOf(result);
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
    return result;
  }
}
