/** The walk snapshotter behind the StepSnapshotter interface: capture before the first step, diff after each. */
import type { LayerEntry } from '../layer-entry.js';
import type { OverlayDirs, StepBeginOptions, StepChangeOptions, StepSnapshotter } from '../step-snapshotter.js';
import { WalkSnapshotter } from './snapshotter.js';

export class WalkStepSnapshotter implements StepSnapshotter {
  readonly kind = 'walk' as const;
  private walk: WalkSnapshotter | undefined;

  constructor(private readonly root: string) {}

  async beforeStep(opts: StepBeginOptions): Promise<OverlayDirs | undefined> {
    this.walk ??= await WalkSnapshotter.begin(this.root, { ...(opts.owners ? { owners: opts.owners } : {}), ...(opts.imageOwner ? { imageOwner: opts.imageOwner } : {}) });
    return undefined;
  }

  async changes(opts: StepChangeOptions): Promise<LayerEntry[]> {
    if (this.walk === undefined) throw new Error('changes() before beforeStep()');
    const entries: LayerEntry[] = [];
    for await (const entry of this.walk.snapshot(opts)) entries.push(entry);
    return entries;
  }

  async ctimesMoved(moved: ReadonlyMap<string, number>): Promise<void> {
    await this.walk?.ctimesMoved(moved);
  }

  rootfsChanged(): void {
    this.walk = undefined;
  }
}
