/**
 * The walk snapshotter over the steps of one stage: capture once, before
 * the first RUN; each snapshot is the diff since the previous one, and the
 * state it recorded is the next step's starting point.
 */
import type { LayerEntry } from '../layer-entry.js';
import { diffState, type DiffOptions } from './diff.js';
import { captureState, type CaptureOptions, type WalkState } from './state.js';

export class WalkSnapshotter {
  private constructor(
    private readonly root: string,
    private state: WalkState,
  ) {}

  /** Captures `root` before the stage's first RUN step. */
  static async begin(root: string, opts: CaptureOptions = {}): Promise<WalkSnapshotter> {
    return new WalkSnapshotter(root, await captureState(root, opts));
  }

  /**
   * What changed since `begin` or the previous snapshot, in layer order.
   * Read it to the end before the next step runs: only then does the next
   * snapshot start from here (a snapshot abandoned halfway leaves the
   * starting point where it was).
   */
  async *snapshot(opts: DiffOptions = {}): AsyncGenerator<LayerEntry, void, undefined> {
    const diff = diffState(this.root, this.state, opts);
    yield* diff;
    this.state = diff.after();
  }
}
