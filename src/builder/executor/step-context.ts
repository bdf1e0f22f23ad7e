import type { FsView } from '../../../snapshot/fs-view.js';
import type { SnapshotKind } from '../../../snapshot/step-snapshotter.js';
import type { LayerEntry } from '../../../snapshot/layer-entry.js';
import type { PatternMatcher } from '../../dockerfile/ignore/index.js';
import type { BlobStore } from '../../oci/index.js';
import { throttleTransfers } from '../../oci/progress.js';
import type { EmitEvent } from '../events.js';
import type { PlannedInstruction } from '../plan/index.js';
import { commitLayer } from './layer-commit.js';
import type { DownloadOptions } from '../add/url-source.js';

export type DownloadSettings = Pick<DownloadOptions, 'dispatcher' | 'timeoutMs'>;
import type { StageState } from './stage-state.js';
import type { Layer } from '../../oci/index.js';
import type { Runner } from '../../run/index.js';

/** What every step of a build shares: where things are and how time is told. */
export interface BuildEnv {
  store: BlobStore;
  contextDir: string;
  ignore: PatternMatcher;
  /** SOURCE_DATE_EPOCH: history times, `created` and the clamp for layer mtimes. */
  epoch: number | undefined;
  now: Date;
  /** Scratch space for downloads and archive spools, removed after the build. */
  tmpDir: string;
  /** The files of an earlier stage, for COPY --from=stage. */
  stageView(index: number): Promise<FsView>;
  /** The files of an image, for COPY --from=image. */
  imageView(ref: string): Promise<FsView>;
  signal?: AbortSignal | undefined;
  /** ADD <url>: the dispatcher (proxy, timeouts) and the deadline grace. */
  downloads?: DownloadSettings | undefined;
  /** Where progress events go. */
  emit: EmitEvent;
  /** The runner for RUN steps, picked once per build on first use (its pick is reported as a warning event). */
  runner(): Promise<Runner>;
  /** The snapshotter RUN steps use with that runner (`--snapshot`), picked with it. */
  snapshotKind(): Promise<SnapshotKind>;
  /** Proxy build args: in every RUN's environment, never in the image. */
  proxyEnv: ReadonlyMap<string, string>;
  /** Run `cleanup` when the build ends, however it ends. */
  onCleanup(cleanup: () => Promise<void>): void;
  /** The files of `layers` as a view (for a stage whose files a RUN changed). */
  layersView(layers: readonly Layer[]): Promise<FsView>;
}

export function formatCreated(date: Date): string {
  return date.toISOString().replace(/\.000Z$/, 'Z');
}

/** One instruction being executed: its planned form and the stage it changes. */
export class StepContext {
  /** The layer this step added, if any. */
  addedLayer: { digest: string; size: number } | undefined;

  constructor(
    readonly env: BuildEnv,
    readonly stage: StageState,
    readonly planned: PlannedInstruction,
    /** The step's number in the build's events. */
    readonly step = 0,
  ) {}

  created(): string {
    return formatCreated(this.env.epoch === undefined ? this.env.now : new Date(this.env.epoch * 1000));
  }

  /** Record a metadata-only step. */
  addHistory(createdBy: string): void {
    this.stage.history.push({ created: this.created(), created_by: createdBy, empty_layer: true });
  }

  /**
   * Write `entries` as a new layer and apply them to the stage's files: its
   * view, and its rootfs if a RUN made one. Entries `fromRootfs` (a RUN's
   * changes) are already on disk; their content is read from there, so the
   * view is rebuilt from the layers when next needed.
   */
  async addLayer(entries: LayerEntry[], createdBy: string, opts: { fromRootfs?: boolean } = {}): Promise<void> {
    const id = `step-${this.step}`;
    const report = throttleTransfers((p) => this.env.emit({ type: 'transfer', step: this.step, ...p }));
    const committed = await commitLayer(this.env.store, entries, {
      clampMtime: this.env.epoch,
      signal: this.env.signal,
      // A layer of directories only has nothing to show.
      onProgress: (current, total, done) => total > 0 && report({ action: 'compress', id, current, total, status: done ? 'done' : 'running' }),
    });
    this.addedLayer = { digest: committed.digest, size: committed.size };
    this.stage.layers.push(committed.layer);
    this.stage.diffIds.push(committed.diffId);
    if (opts.fromRootfs) {
      const layers = [...this.stage.layers];
      this.stage.reloadView(() => this.env.layersView(layers));
    } else {
      this.stage.view = (await this.stage.ensureView()).withLayer(entries);
      await this.stage.rootfs?.applyLayer(committed.layer);
    }
    this.stage.history.push({ created: this.created(), created_by: createdBy });
  }

  /** The mtime for directories and files a step creates itself. */
  createdMtime(): number {
    return this.env.epoch ?? Math.floor(this.env.now.getTime() / 1000);
  }
}
