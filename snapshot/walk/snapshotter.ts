/**
 * The walk snapshotter over the steps of one stage: capture once, before
 * the first RUN; each snapshot is the diff since the previous one, and the
 * state it recorded is the next step's starting point.
 */
import type { LayerEntry } from '../layer-entry.js';
import { diffState, type DiffOptions } from './diff.js';
import { captureState, settle, type CaptureOptions, type WalkState } from './state.js';

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
  /**
   * Paths whose ctime moved between steps and nothing else of them (a chown
   * that kept their owner in the image): the new ctimes are recorded, so the
   * next snapshot does not take them for changes (nor the other names of
   * a file with several links). Then waits out the clock tick, as a capture
   * does.
   */
  async ctimesMoved(moved: ReadonlyMap<string, number>): Promise<void> {
    const state = this.state;
    const linked = new Map<number, number>();
    for (const [rel, ctimeMs] of moved) {
      const i = state.indexOf(rel);
      if (i === undefined) continue;
      state.ctimes[i] = ctimeMs;
      if (!state.isDir(i)) linked.set(state.inodes[i] ?? 0, ctimeMs);
    }
    if (linked.size > 0) {
      for (let i = 0; i < state.count; i++) {
        const ctimeMs = state.isDir(i) ? undefined : linked.get(state.inodes[i] ?? 0);
        if (ctimeMs !== undefined) state.ctimes[i] = ctimeMs;
      }
    }
    await settle();
  }

  async *snapshot(opts: DiffOptions = {}): AsyncGenerator<LayerEntry, void, undefined> {
    const diff = diffState(this.root, this.state, opts);
    yield* diff;
    this.state = diff.after();
  }
}
