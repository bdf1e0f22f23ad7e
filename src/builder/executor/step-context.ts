import type { BlockDeflater } from '../../../snapshot/deflate-pool.js';
import type { FsView } from '../../../snapshot/fs-view.js';
import type { SnapshotKind } from '../../../snapshot/step-snapshotter.js';
import type { LayerEntry } from '../../../snapshot/layer-entry.js';
import type { PatternMatcher } from '../../dockerfile/ignore/index.js';
import type { BlobStore, GrowingBlob, Layer } from '../../oci/index.js';
import type { Digest } from '../../oci/digest.js';
import { throttleTransfers } from '../../oci/progress.js';
import type { EmitEvent } from '../events.js';
import type { PlannedInstruction } from '../plan/index.js';
import type { DownloadOptions, DownloadResult } from '../add/url-source.js';

/** How ADD <url> connects: the dispatcher is made (and undici loaded) by the first download, not by every build. */
export interface DownloadSettings extends Pick<DownloadOptions, 'timeoutMs'> {
  dispatcher?: (() => Promise<NonNullable<DownloadOptions['dispatcher']>>) | undefined;
}
import type { StageState } from './stage-state.js';
import type { StageRootfs } from '../run/stage-rootfs.js';
import type { StageFiles } from '../../../snapshot/stage-files.js';
import type { Runner } from '../../run/index.js';
import type { SecretSource } from '../run/mounts/build-secrets.js';
import type { ContextFs } from '../copy/source-fs.js';
import type { CommitOptions } from './layer-commit.js';

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
  stageFiles(index: number): Promise<StageFiles>;
  /** The files of an image, for COPY --from=image. */
  imageView(ref: string): Promise<FsView>;
  signal?: AbortSignal | undefined;
  /**
   * The user's stop (an interrupt) alone. A step that finished still
   * compresses its layer and records it in the cache after the next step
   * fails: only this stops that, so a failed build keeps the steps before
   * the failure cached, as BuildKit does.
   */
  interruption?: AbortSignal | undefined;
  /** Where layers' gzip blocks are deflated (threads that yield to the build's other work); undefined: libuv's pool. */
  blockDeflater?: (() => Promise<BlockDeflater | undefined>) | undefined;
  /** `--compression-level`: gzip level of the layers the build writes; default DEFAULT_GZIP_LEVEL. */
  gzipLevel?: number | undefined;
  /** ADD <url>: the dispatcher (proxy, timeouts) and the deadline grace. */
  downloads?: DownloadSettings | undefined;
  /** ADD <url>: the file, downloaded once per build (the cache key may have needed it first); it stays until the build ends. */
  download(url: string, checksum: string | undefined): Promise<DownloadResult>;
  /** Where progress events go. */
  emit: EmitEvent;
  /** The runner for RUN steps, picked once per build on first use (its pick is reported once, as a note event). */
  runner(): Promise<Runner>;
  /** The snapshotter RUN steps use with that runner (`--snapshot`), picked with it. */
  snapshotKind(): Promise<SnapshotKind>;
  /** Proxy build args: in every RUN's environment, never in the image. */
  proxyEnv: ReadonlyMap<string, string>;
  /** Run `cleanup` when the build ends, however it ends. */
  onCleanup(cleanup: () => Promise<void>): void;
  /** RUN --mount=type=secret: `--secret` by id. */
  secrets: ReadonlyMap<string, SecretSource>;
  /** RUN --mount=type=ssh: `--ssh` agent sockets by id. */
  sshAgents: ReadonlyMap<string, string>;
  /** RUN --mount=type=cache: where cache mounts are kept between builds (`<cache-dir>/mounts`). */
  cacheMountsDir: string;
}

export function formatCreated(date: Date): string {
  return date.toISOString().replace(/\.000Z$/, 'Z');
}

/** One instruction being executed: its planned form and the stage it changes. */
export class StepContext {
  /** The layer this step added, if any: its digest and size, once its blob is in the store (see commitLayer). */
  addedLayer: Promise<{ digest: Digest; size: number }> | undefined;
  /** Where this step's layer goes while it is compressed (a registry upload of the image's layers); set by the build. */
  streamLayer: ((blob: GrowingBlob) => void) | undefined;
  /** This step's layer was handed to `streamLayer`. */
  streamed = false;
  /**
   * The context as this step's COPY/ADD sees it, by follow paths: one walk
   * (and one read of each file's xattrs) for its cache key and its layer.
   */
  readonly contextViews = new Map<string, ContextFs>();

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
   * rootfs if it has one (or a copy of the one it inherited), else its
   * view. Entries `fromRootfs` (a RUN's changes) are on disk already.
   */
  async addLayer(entries: LayerEntry[], createdBy: string, opts: { fromRootfs?: boolean } = {}): Promise<void> {
    const id = `step-${this.step}`;
    const report = throttleTransfers((p) => this.env.emit({ type: 'transfer', step: this.step, ...p }));
    // The layer writer (tar, gzip) is loaded by the first step that makes a layer: a build whose steps all come from the cache never needs it.
    const { commitLayer } = await import('./layer-commit.js');
    // With a rootfs already being unpacked ahead for a RUN, this layer goes to it while its tar is written.
    let followed = false;
    const follow = !opts.fromRootfs && !this.stage.onDisk && this.stage.unpacking;
    const committed = await commitLayer(this.env.store, entries, {
      onSpool: follow ? (tar) => void (followed = this.stage.applyAheadGrowing(tar)) : undefined,
      spoolDir: this.env.tmpDir,
      clampMtime: this.env.epoch,
      signal: this.env.signal,
      compressSignal: this.env.interruption,
      deflate: await this.env.blockDeflater?.(),
      stream: this.layerStream(),
      gzipLevel: this.env.gzipLevel,
      // A layer of directories only has nothing to show.
      onProgress: (current, total, done) => total > 0 && report({ action: 'compress', id, current, total, status: done ? 'done' : 'running' }),
    });
    this.addedLayer = committed.stored;
    if (!opts.fromRootfs) {
      if (this.stage.onDisk) await (await this.ownRootfs()).applyLayer(committed.layer);
      else await this.stage.addToView(entries);
    }
    this.stage.layers.push(committed.layer);
    this.stage.diffIds.push(committed.diffId);
    this.stage.history.push({ created: this.created(), created_by: createdBy });
    // A RUN later in the stage needs the files on disk: they unpack while the steps before it go on with the view.
    if (!opts.fromRootfs && !this.stage.onDisk && !followed && !this.stage.applyAhead(committed.layer) && this.stage.rootfsAhead) {
      this.stage.unpackAhead((layers) => this.unpack(layers));
    }
  }

  private layerStream(): CommitOptions['stream'] {
    const send = this.streamLayer;
    if (send === undefined) return undefined;
    return {
      send: (blob) => {
        this.streamed = true;
        send(blob);
      },
      onCleanup: (cleanup) => this.env.onCleanup(cleanup),
    };
  }

  /**
   * The stage's own files on disk, made the first time a step needs them:
   * a copy of the rootfs it inherited from the stage it is built FROM, or
   * its layers unpacked.
   */
  async ownRootfs(): Promise<StageRootfs> {
    const { stage, env } = this;
    if (stage.rootfs !== undefined) return stage.rootfs;
    const ahead = stage.takePendingRootfs();
    let rootfs: StageRootfs;
    if (ahead !== undefined) rootfs = await ahead;
    else if (stage.inherited !== undefined) {
      // Loaded by the first step that needs files on disk (the rootfs, the snapshotters).
      const { StageRootfs } = await import('../run/stage-rootfs.js');
      rootfs = await StageRootfs.copyOf(stage.inherited, env.tmpDir, stage.layers, env.signal, env.onCleanup, env.snapshotKind());
    } else rootfs = await this.unpack(stage.layers);
    stage.adoptRootfs(rootfs);
    env.emit({ type: 'rootfs', step: this.step, how: rootfs.madeBy });
    return rootfs;
  }

  /**
   * `layers` unpacked into a new rootfs under the build's scratch space. Its
   * removal at the end of the build waits for the unpack (and the layers
   * applied after it) to settle: an unpack ahead may still be running.
   */
  private async unpack(layers: readonly Layer[]): Promise<StageRootfs> {
    const { env } = this;
    // The runner probe (which picks the snapshotter) runs while the layers unpack.
    const snapshot = env.snapshotKind();
    // A failed probe surfaces through create; observed now, so that it is not unhandled while the module loads.
    snapshot.catch(() => undefined);
    const { StageRootfs } = await import('../run/stage-rootfs.js');
    return StageRootfs.create(env.tmpDir, layers, env.signal, env.onCleanup, snapshot);
  }

  /** The mtime for directories and files a step creates itself. */
  createdMtime(): number {
    return this.env.epoch ?? Math.floor(this.env.now.getTime() / 1000);
  }
}
