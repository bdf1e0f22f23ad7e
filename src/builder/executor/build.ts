import { rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import type { FsView } from '../../../snapshot/fs-view.js';
import type { BlockDeflater } from '../../../snapshot/deflate-pool.js';
import { GZIP_LEVEL_HINT, isGzipLevel } from '../../../snapshot/gzip-level.js';
import type { StageRootfs } from '../run/stage-rootfs.js';
import type { GrowingBlob, Layer } from '../../oci/index.js';
import { causes, HoistError, type Warning } from '../../errors.js';
import { withFsContext } from '../../fs-errors.js';
import {
  imageFromParts,
  parseReference,
  type BlobStore,
  type ConfigFile,
  type Image,
  type ImageSink,
  type ImageSource,
  type Reference,
} from '../../oci/index.js';
import type { Digest } from '../../oci/digest.js';
import { setMapEntry } from '../../oci/map-entry.js';
import type { FromInstr, Instruction } from '../../dockerfile/instructions/types.js';
import { loadBuildDefinition, type FrontendOptions } from '../frontend.js';
import { outputDestName, outputSink, type OutputSpec } from '../../images/outputs.js';
import { parsePlatform, planBuild, type BuildPlan, type PlannedInstruction, type PlannedStage, type PlatformSpec } from '../plan/index.js';
import { executeInstruction } from '../handlers/index.js';
import { baseKey, openBaseImages, type BaseImage } from './base-images.js';
import { locate } from './locate.js';
import { imageTriggers } from './image-triggers.js';
import { formatCreated, StepContext, type BuildEnv, type DownloadSettings } from './step-context.js';
import { StageState } from './stage-state.js';
import { writeReports, type BuildReport } from './reports.js';
import { eventEmitter, type BuildEvent, type EmitEvent } from '../events.js';
import { StepTracker } from './step-tracker.js';
import type { RunnerChoice } from '../run/pick-runner.js';
import type { Isolation, Runner, SnapshotRequest } from '../../run/index.js';
import { createScratchDir, removeDeadScratchDirs } from '../scratch-dir.js';
import type { SecretSource } from '../run/mounts/build-secrets.js';
import { StepCacheSession, type StepCacheOptions } from './step-cache.js';
import { runStages } from './stage-scheduler.js';

/** For front ends that check a level before they build (the CLI). */
export { GZIP_LEVEL_HINT, isGzipLevel };

export interface BuildOptions extends FrontendOptions {
  /** The context was unpacked or cloned for this build and goes after it: the digests of its files are not kept. */
  contextTransient?: boolean | undefined;
  store: BlobStore;
  outputs: readonly OutputSpec[];
  tags: readonly string[];
  /** Where FROM <image> and COPY --from=<image> come from (a registry source). */
  images?: ImageSource | undefined;
  /** Push the result to every tag through this sink (`--push`). */
  push?: ImageSink | undefined;
  /** SOURCE_DATE_EPOCH, if set. */
  epoch?: number | undefined;
  now?: Date | undefined;
  digestFile?: string | undefined;
  metadataFile?: string | undefined;
  signal?: AbortSignal | undefined;
  /** How ADD <url> downloads connect: proxy-aware dispatcher and timeout (registry/url-dispatcher.ts). */
  downloads?: DownloadSettings | undefined;
  /** Told what the build is doing, as it happens (see events.ts). */
  onEvent?: ((event: BuildEvent) => void) | undefined;
  /** How RUN steps are isolated (`--isolation`); default `auto`. */
  isolation?: Isolation | undefined;
  /** How a RUN step's changes are found (`--snapshot`); default `auto`. */
  snapshot?: SnapshotRequest | undefined;
  /** Where the runners' host tools are looked for first (the caller's PATH); the usual system directories after it. */
  toolPath?: string | undefined;
  /** `--label`: added to the final image's labels, over what the Dockerfile set (as BuildKit does). */
  labels?: ReadonlyArray<readonly [string, string]> | undefined;
  /** `--annotation`: added to the final image's manifest. */
  annotations?: ReadonlyArray<readonly [string, string]> | undefined;
  /** `--secret`: RUN --mount=type=secret's contents by id. */
  secrets?: ReadonlyMap<string, SecretSource> | undefined;
  /** `--ssh`: agent sockets by id, for RUN --mount=type=ssh. */
  sshAgents?: ReadonlyMap<string, string> | undefined;
  /** Where RUN --mount=type=cache directories are kept; default `mounts` in the store's directory (the cache dir). */
  cacheMountsDir?: string | undefined;
  /** The build cache (steps looked up and recorded); none: every step runs and nothing is recorded. */
  cache?: StepCacheOptions | undefined;
  /**
   * `--compression-level`: gzip level (0-9) of the layers this build writes;
   * default 4 (snapshot/gzip-level.ts). Layers from the base image and
   * from the build cache keep the compression they were stored with.
   */
  compressionLevel?: number | undefined;
  /** `--jobs`: how many stages that do not depend on each other are built at once; default the number of CPUs (1: one stage after another). */
  jobs?: number | undefined;
}

export interface BuildResult {
  image: Image;
  digest: Digest;
  report: BuildReport;
  plan: BuildPlan;
  warnings: Warning[];
}

function parseTags(tags: readonly string[]): Reference[] {
  return tags.map((tag) => {
    try {
      return parseReference(tag);
    } catch (err) {
      throw new HoistError('BAD_TAG', `invalid tag ${JSON.stringify(tag)}: ${(err as Error).message}`, {
        hint: 'write -t name[:tag], e.g. -t myapp:1.0 or -t registry.example.com/team/app:latest',
        cause: err,
      });
    }
  });
}

function imageConfig(state: StageState, platform: PlatformSpec, created: string, labels: BuildOptions['labels'] = []): ConfigFile {
  const containerConfig = { ...state.config };
  if (labels.length > 0) {
    containerConfig.Labels = { ...(state.config.Labels ?? {}) };
    for (const [key, value] of labels) setMapEntry(containerConfig.Labels, key, value);
  }
  const config: ConfigFile = {
    created,
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: containerConfig,
    rootfs: { type: 'layers', diff_ids: state.diffIds },
    history: state.history,
  };
  if (state.author !== undefined) config.author = state.author;
  return config;
}

/** One build: the states of finished stages and the views of images read. */
class Builder {
  private readonly results = new Map<number, StageState>();
  /** The states of the stages being built. */
  private readonly building = new Map<number, StageState>();
  private readonly imageViews = new Map<string, Promise<FsView>>();
  private readonly images = new Map<string, Promise<Image>>();
  /** The build cache, when the build has one. */
  readonly cache: StepCacheSession | undefined;
  private readonly cleanups: Array<() => Promise<void>> = [];
  /** Steps whose layers are still being compressed (StepTracker.start): the cleanup waits for them. */
  private readonly inflight: Array<Promise<void>> = [];
  private runnerPick: Promise<RunnerChoice> | undefined;
  private urlDownloads: Promise<import('../add/url-downloads.js').UrlDownloads> | undefined;
  private deflater: Promise<BlockDeflater | undefined> | undefined;
  /** Once every stage's steps have run (see blockDeflater): the blocks still queued for the pool go to libuv's. */
  private handOffDeflates: (() => void) | undefined;
  /** Stages whose steps are still to run; at 0 the build waits for its layers' compression alone (see blockDeflater). */
  private stepLoopsLeft: number;
  /** For each stage, how many FROM and COPY --from of the stages still to build read it. */
  private readonly readsLeft: Map<number, number>;

  constructor(
    private readonly opts: BuildOptions,
    private readonly bases: Map<string, BaseImage>,
    private readonly tmpDir: string,
    private readonly emit: EmitEvent,
    private readonly steps: StepTracker,
    private readonly plan: BuildPlan,
    /** The user's stop (an interrupt) alone, without a failed stage's: see BuildEnv.interruption. */
    private readonly interruption?: AbortSignal,
  ) {
    this.readsLeft = stageReads(plan);
    this.stepLoopsLeft = plan.stages.filter((s) => s.needed).length;
    this.cache =
      opts.cache === undefined
        ? undefined
        : new StepCacheSession(opts.cache, { layersView: (layers) => this.layersView(layers), imageDigest: async (ref) => (await this.image(ref)).digest() }, opts.epoch);
  }

  /** One read of stage `index` is over. */
  private readStage(index: number): void {
    this.readsLeft.set(index, (this.readsLeft.get(index) ?? 0) - 1);
  }

  /** A step's reads of other stages (COPY --from, RUN --mount from=) are over once the step is: a bind mount is read while the RUN runs. */
  private stepReadsDone(planned: PlannedInstruction): void {
    if (planned.fromStage !== undefined) this.readStage(planned.fromStage);
    for (const index of planned.mountStages?.values() ?? []) this.readStage(index);
  }

  /**
   * Whether nothing reads the rootfs any more: every finished stage whose
   * files it is (its own, or inherited unchanged) is read no more, and no
   * stage being built (at the same time, with --jobs) but `taker` reads it
   * as the files it inherited.
   */
  private rootfsFree(rootfs: StageRootfs, taker: number): boolean {
    for (const [index, state] of this.results) {
      if ((state.rootfs === rootfs || state.inherited === rootfs) && (this.readsLeft.get(index) ?? 0) > 0) return false;
    }
    for (const [index, state] of this.building) if (index !== taker && (state.rootfs === rootfs || state.inherited === rootfs)) return false;
    return true;
  }

  /** The build's runner and snapshotter: probed and picked once, at the first RUN. */
  private runnerChoice(): Promise<RunnerChoice> {
    this.runnerPick ??= (async () => {
      // The runners are loaded by the first RUN that runs: a build whose RUN steps all come from the cache never needs them.
      const { pickRunner, runNeeds } = await import('../run/pick-runner.js');
      const choice: RunnerChoice = await pickRunner({
        isolation: this.opts.isolation ?? 'auto',
        snapshot: this.opts.snapshot ?? 'auto',
        needs: runNeeds(this.plan, (stage) => (stage.base.kind === 'image' ? this.bases.get(baseKey(stage.base.ref, stage.platform))?.config.config?.User : undefined)),
        toolPath: this.opts.toolPath,
        tmpDir: this.tmpDir,
      });
      this.emit({ type: 'note', code: 'RUNNER', message: `RUN steps use --isolation ${choice.reason}` });
      for (const note of choice.notes) this.emit({ type: 'warning', code: 'RUNNER_NOTE', message: note });
      this.emit({ type: 'note', code: 'SNAPSHOT', message: `RUN steps use --snapshot ${choice.snapshot.reason}` });
      return choice;
    })();
    return this.runnerPick;
  }

  /**
   * The threads that deflate the build's layers at a low priority while
   * steps run, started by the first step that makes a layer (as the layer
   * writer is loaded); none where hoist runs from its TypeScript sources
   * (libuv's pool deflates then). Once every step has run, the blocks left go
   * to libuv's pool at the normal priority: the build waits for them alone,
   * and other work on the machine must not slow them down.
   */
  private blockDeflater(): Promise<BlockDeflater | undefined> {
    this.deflater ??= Promise.all([import('../../../snapshot/deflate-pool.js'), import('../../../snapshot/parallel-gzip.js')]).then(
      ([{ DeflatePool, deflateWorkerScript }, { deflateInThreadPool }]) => {
        const script = deflateWorkerScript();
        if (script === undefined) return undefined;
        const pool = new DeflatePool({ script });
        this.cleanups.push(() => pool.close());
        this.handOffDeflates = () => pool.handOff(deflateInThreadPool);
        return (data, options) => (this.stepLoopsLeft === 0 ? deflateInThreadPool(data, options) : pool.deflate(data, options));
      },
    );
    return this.deflater;
  }

  /** A stage's steps have all run; after the last stage's, the build waits for compression alone (see blockDeflater). */
  private stepLoopEnded(): void {
    this.stepLoopsLeft -= 1;
    if (this.stepLoopsLeft === 0) this.handOffDeflates?.();
  }

  private async runner(): Promise<Runner> {
    return (await this.runnerChoice()).runner;
  }

  env(now: Date, ignore: BuildEnv['ignore']): BuildEnv {
    return {
      store: this.opts.store,
      contextDir: this.opts.contextDir,
      ignore,
      epoch: this.opts.epoch,
      now,
      tmpDir: this.tmpDir,
      signal: this.opts.signal,
      interruption: this.interruption,
      blockDeflater: () => this.blockDeflater(),
      gzipLevel: this.opts.compressionLevel,
      downloads: this.opts.downloads,
      download: async (url, checksum) => {
        // Loaded (with undici) by the first ADD <url>, not by every build.
        this.urlDownloads ??= import('../add/url-downloads.js').then((m) => new m.UrlDownloads(this.tmpDir, this.opts.downloads, this.opts.signal));
        return (await this.urlDownloads).get(url, checksum);
      },
      stageFiles: async (index) => {
        const state = this.results.get(index);
        if (!state) throw new Error(`stage ${index} is read before it was built`);
        return state.files();
      },
      imageView: (ref) => this.imageView(ref),
      emit: this.emit,
      runner: () => this.runner(),
      snapshotKind: async () => (await this.runnerChoice()).snapshot.kind,
      proxyEnv: this.plan.proxyEnv,
      onCleanup: (cleanup) => this.cleanups.push(cleanup),
      secrets: this.opts.secrets ?? new Map(),
      sshAgents: this.opts.sshAgents ?? new Map(),
      cacheMountsDir: this.opts.cacheMountsDir ?? path.join(this.opts.store.root, 'mounts'),
    };
  }

  private async layersView(layers: readonly Layer[]): Promise<FsView> {
    // The layer readers are loaded by the first step that reads a stage's or an image's files.
    const { viewFromImageLayers } = await import('./base-view.js');
    const { view, cleanup } = await viewFromImageLayers(layers, this.opts.store, this.tmpDir, this.opts.signal);
    this.cleanups.push(cleanup);
    return view;
  }

  /** An image COPY --from names, opened once per build. */
  private image(ref: string): Promise<Image> {
    let image = this.images.get(ref);
    if (!image) {
      const images = this.opts.images;
      image = images ? images.image(ref) : Promise.reject(new HoistError('NO_IMAGE_SOURCE', `--from=${ref}: no registry access was configured`));
      this.images.set(ref, image);
    }
    return image;
  }

  private imageView(ref: string): Promise<FsView> {
    let view = this.imageViews.get(ref);
    if (!view) {
      view = (async () => this.layerView(await this.image(ref)))();
      this.imageViews.set(ref, view);
    }
    return view;
  }

  private async layerView(image: Image): Promise<FsView> {
    return this.layersView(await image.layers());
  }

  /** The state stage `stage` starts with, from then on known as being built (see rootfsFree). */
  async initialState(stage: PlannedStage): Promise<StageState> {
    const state = await this.startState(stage);
    this.building.set(stage.index, state);
    return state;
  }

  private async startState(stage: PlannedStage): Promise<StageState> {
    switch (stage.base.kind) {
      case 'scratch':
        return StageState.scratch();
      case 'stage': {
        const parent = this.results.get(stage.base.index);
        if (!parent) throw new Error(`stage ${stage.base.index} was not built before stage ${stage.index}`);
        this.readStage(stage.base.index);
        const state = parent.clone();
        // Known as being built at once, with no await between: a stage FROM the same parent starting meanwhile must see this one read the rootfs.
        this.building.set(stage.index, state);
        // The parent's rootfs goes to this stage when nothing reads it again; else this stage reads it, and copies it when it changes files.
        const rootfs = state.inherited;
        if (rootfs !== undefined && this.rootfsFree(rootfs, stage.index)) {
          for (const done of this.results.values()) {
            if (done.rootfs === rootfs || done.inherited === rootfs) {
              const layers = [...done.layers];
              done.giveUpRootfs(() => this.layersView(layers));
            }
          }
          state.adoptRootfs(rootfs);
          this.emit({ type: 'rootfs', stage: stage.index, how: 'inherit' });
        }
        // The parent's ONBUILD triggers ran at the start of this stage (the plan put them there).
        delete state.config.OnBuild;
        return state;
      }
      case 'image': {
        const base = this.baseOf(stage);
        const config = base.config;
        return new StageState({
          config: { ...(config.config ?? {}) },
          layers: await base.image.layers(),
          diffIds: config.rootfs.diff_ids,
          history: config.history ?? [],
          viewLoader: () => this.layerView(base.image),
          ...(config.author !== undefined ? { author: config.author } : {}),
        });
      }
    }
  }

  async runStage(stage: PlannedStage, env: BuildEnv, lex: '\\' | '`'): Promise<void> {
    // An image base's ONBUILD triggers run first: its config is at hand, so the step count is known now.
    const opened = stage.base.kind === 'image' ? await this.initialState(stage) : undefined;
    const steps = opened ? [...imageTriggers(opened, stage, lex), ...stage.instructions] : stage.instructions;
    if (opened) delete opened.config.OnBuild;
    const label = this.steps.label(stage);
    const total = steps.length + 1; // BuildKit counts FROM as step 1
    const at = (index: number, instr: Instruction, instruction = instr.original) => ({ stage: stage.index, label, index, total, instruction, location: instr.location });
    this.steps.stageStart(stage, total);
    const state = await this.steps.run(at(1, stage.from, fromAsShown(stage.from)), async () => opened ?? this.initialState(stage));
    const chain = this.cache?.startStage(stage, stage.base.kind === 'image' ? await this.baseOf(stage).image.digest() : undefined);
    const platform = stage.platform ?? platformString(this.opts.targetPlatform);
    const lastRun = steps.findLastIndex((s) => s.instr.kind === 'RUN');
    const finishing: Array<Promise<void>> = [];
    for (const [i, planned] of steps.entries()) {
      this.opts.signal?.throwIfAborted();
      state.rootfsAhead = i < lastRun;
      const located = <T>(p: Promise<T> | undefined): Promise<T> | undefined =>
        p?.catch((err: unknown) => {
          // Compression stopped because the build is stopping (another step failed, an interrupt): that is the step's end, not an error of its own.
          const signal = this.opts.signal;
          throw signal?.aborted === true ? signal.reason : locate(err, planned.instr.location);
        });
      const run = async (step: number): Promise<{ ctx: StepContext; cached: boolean; recorded?: Promise<void> }> => {
        const ctx = new StepContext(env, state, planned, step);
        ctx.streamLayer = this.layerStream(stage.index);
        const execute = () => executeInstruction(ctx, planned.instr);
        try {
          if (this.cache === undefined || chain === undefined) return (await execute(), { ctx, cached: false });
          return { ctx, ...(await this.cache.step(ctx, chain, platform, execute)) };
        } catch (err) {
          throw locate(err, planned.instr.location);
        }
      };
      // The next step starts once this one's files are in place; its layer is compressed (and recorded in the cache) meanwhile.
      const { result, finished } = await this.steps.start(at(i + 2, planned.instr), run, (r) => ({ cached: r.cached, layer: located(r.ctx.addedLayer), settled: located(r.recorded) }));
      finishing.push(finished);
      this.inflight.push(finished);
      // Only a layer being compressed is worth going on without: other steps end before the next starts, as their lines show.
      if (result.cached || result.ctx.addedLayer === undefined) await finished;
      if (stage.index === this.plan.target && result.ctx.addedLayer !== undefined && !result.ctx.streamed) this.uploadAhead(state.layers.at(-1) as Layer);
      this.stepReadsDone(planned);
    }
    if (stage.index === this.plan.target) {
      const layers = [...state.layers];
      state.discardRootfs(() => this.layersView(layers));
    }
    this.stepLoopEnded();
    await Promise.all(finishing);
    if (chain !== undefined) this.cache?.finishStage(stage.index, chain);
    this.results.set(stage.index, state);
    this.building.delete(stage.index);
  }

  /**
   * A layer of the image being built, sent to the push destination as soon
   * as its blob is stored, while later steps run (registries take blobs
   * before the manifest); the push then only waits for what is still on
   * its way. Not with a registry cache: its hits are mounted from the
   * cache repository by the push rather than fetched to be sent (and with
   * --cache-to the repository receives every layer anyway).
   */
  private uploadAhead(layer: Layer): void {
    const { push, cache, tags, signal } = this.opts;
    if (push?.sendAhead === undefined || cache?.store.hasRegistry === true || tags.length === 0) return;
    const refs = parseTags(tags);
    void Promise.all([layer.digest(), layer.size()])
      .then(([digest, size]) => push.sendAhead?.(refs, { mediaType: layer.mediaType(), digest, size }, () => layer.compressed(), signal))
      .catch(() => undefined);
  }

  /**
   * Where a layer of the image being built goes while it is compressed: to
   * the push destination, read from the store's file as it is written, so
   * that the upload ends soon after the gzip does instead of starting then
   * (see uploadAhead, which sends a stored layer, for the conditions).
   */
  private layerStream(stageIndex: number): ((blob: GrowingBlob) => void) | undefined {
    const { push, cache, tags, signal } = this.opts;
    if (stageIndex !== this.plan.target || push?.sendGrowing === undefined || cache?.store.hasRegistry === true || tags.length === 0) return undefined;
    const refs = parseTags(tags);
    if (push.streamsTo?.(refs) !== true) return undefined;
    return (blob) => push.sendGrowing?.(refs, blob, signal);
  }

  private baseOf(stage: PlannedStage): BaseImage {
    if (stage.base.kind !== 'image') throw new Error(`stage ${stage.index} is not built on an image`);
    return this.bases.get(baseKey(stage.base.ref, stage.platform)) as BaseImage;
  }

  result(index: number): StageState {
    return this.results.get(index) as StageState;
  }

  async cleanup(): Promise<void> {
    // Last registered first: a view spooled from a rootfs's layers goes before the rootfs.
    const errors: unknown[] = [];
    // Layers still being compressed (a later step failed) stop reading their spools first.
    await Promise.allSettled(this.inflight.splice(0));
    // A rootfs still unpacking ahead (its RUN came from the cache, or the build failed) is removed once it stops.
    for (const state of [...this.results.values(), ...this.building.values()]) await state.settleAhead();
    for (const c of this.cleanups.splice(0).reverse()) await c().catch((err: unknown) => errors.push(err));
    if (errors.length > 0) throw errors[0];
  }
}

/**
 * The time of an image none of whose steps changed files: the latest time
 * its base's history carries (the entries not made now, by this build), or
 * the Unix epoch for one FROM scratch, as SOURCE_DATE_EPOCH=0 gives it.
 */
function baseTime(state: StageState, now: string): string {
  let latest = formatCreated(new Date(0));
  for (const { created } of state.history) {
    if (created === undefined || created === now || Number.isNaN(Date.parse(created))) continue;
    if (Date.parse(created) > Date.parse(latest)) latest = created;
  }
  return latest;
}

/** History entries made at `from` (this build's time) are dated `to`. */
function retime(state: StageState, from: string, to: string): void {
  state.history = state.history.map((h) => (h.created === from ? { ...h, created: to } : h));
}

/** `os/arch[/variant]`. */
function platformString(p: PlatformSpec): string {
  return [p.os, p.architecture, ...(p.variant ? [p.variant] : [])].join('/');
}

/** FROM as progress shows it: with its variables expanded (BuildKit shows the image it resolved), otherwise as written. */
function fromAsShown(from: FromInstr): string {
  if (!from.original.includes('$')) return from.original;
  const platform = from.platform === undefined ? [] : [`--platform=${from.platform}`];
  const name = from.stageName === undefined ? [] : ['AS', from.stageName];
  return ['FROM', ...platform, from.image, ...name].join(' ');
}

/** How many times each stage is read by the needed stages: as a FROM base, and by COPY --from. */
function stageReads(plan: BuildPlan): Map<number, number> {
  const reads = new Map<number, number>();
  const count = (index: number) => reads.set(index, (reads.get(index) ?? 0) + 1);
  for (const stage of plan.stages) {
    if (!stage.needed) continue;
    if (stage.base.kind === 'stage') count(stage.base.index);
    for (const planned of stage.instructions) {
      if (planned.fromStage !== undefined) count(planned.fromStage);
      for (const index of planned.mountStages?.values() ?? []) count(index);
    }
  }
  return reads;
}

/** Every place the image goes, in order: the outputs, then the registry push; each with a phrase for progress. */
function destinations(opts: BuildOptions, image: Image, refs: readonly Reference[], tmpDir: string): Array<{ description: string; streamed?: boolean; write: () => Promise<unknown> }> {
  const { push } = opts;
  return [
    ...opts.outputs.map((output) => ({
      description: `exporting to ${output.type} ${outputDestName(output)}`,
      streamed: typeof output.dest !== 'string',
      write: () => {
        const write = () => outputSink(output, tmpDir).write(image, refs);
        return typeof output.dest === 'string' ? withFsContext(output.dest, `write the ${output.type} output`, write) : write();
      },
    })),
    ...(push ? [{ description: `pushing ${refs.map((r) => r.string()).join(', ')}`, write: () => push.write(image, refs) }] : []),
  ];
}

/** Tries of one build that a cache hit proving unusable late may cost (each makes at least one entry a miss). */
const MAX_CACHE_TRIES = 4;

/**
 * Build the Dockerfile's target stage and write it to every output (and
 * push it, if asked). A registry cache hit whose layer proves lost or wrong
 * when read fails that try; the build starts again without the entry (what
 * it finished is in the local cache by then). So does a blob that left the
 * local store while the build ran (`hoist cache prune` beside it): the step
 * whose layer it was misses in the next try and runs again, and a base
 * image's layer is fetched again.
 */
export async function build(opts: BuildOptions): Promise<BuildResult> {
  const level = opts.compressionLevel;
  if (level !== undefined && !isGzipLevel(level)) throw new HoistError('INVALID_OPTION', `compression level ${level} is not a gzip level`, { hint: GZIP_LEVEL_HINT });
  // A blob can go from under one try only by bad luck: a second loss is a store that lacks it, not a prune.
  let blobLost = false;
  // An archive written to a stream (standard output) cannot be taken back: a try that began one is the last.
  const attempt = { streamed: false };
  for (let tries = 1; ; tries++) {
    try {
      return await buildOnce(opts, attempt);
    } catch (err) {
      if (tries >= MAX_CACHE_TRIES || opts.signal?.aborted === true || attempt.streamed) throw err;
      const lateMiss = opts.cache?.store.retry?.() === true;
      const gone = opts.cache === undefined || blobLost ? undefined : lostBlob(err);
      if (!lateMiss && gone === undefined) throw err;
      if (gone !== undefined) {
        blobLost = true;
        eventEmitter(opts.onEvent)({
          type: 'warning',
          code: 'CACHE_BLOB_GONE',
          message: `${gone.message} any more (removed while the build ran? hoist cache prune does that): the build starts again and makes or fetches it anew`,
        });
      }
    }
  }
}

/** The store's BLOB_NOT_FOUND in `err` or its causes: a blob the build had found in the store is gone. */
function lostBlob(err: unknown): HoistError | undefined {
  for (const e of causes(err)) if (e instanceof HoistError && e.code === 'BLOB_NOT_FOUND') return e;
  return undefined;
}

async function buildOnce(opts: BuildOptions, attempt: { streamed: boolean }): Promise<BuildResult> {
  opts.signal?.throwIfAborted();
  const definition = await loadBuildDefinition(opts);
  const refs = parseTags(opts.tags);
  await opts.store.prepare();
  const emit = eventEmitter(opts.onEvent);
  const bases = await openBaseImages(definition.plan, opts.images, opts.targetPlatform, emit);
  const envOf = new Map([...bases.values()].map((b) => [b.ref, b.config.config?.Env ?? []]));
  const plan =
    bases.size === 0
      ? definition.plan
      : planBuild(definition.stages, {
          buildArgs: opts.buildArgs,
          target: opts.target,
          buildPlatform: opts.buildPlatform,
          targetPlatform: opts.targetPlatform,
          baseImageEnv: (ref) => envOf.get(ref),
        });
  const now = opts.now ?? new Date();
  await removeDeadScratchDirs(tmpdir());
  const tmpDir = await createScratchDir(tmpdir());
  for (const w of plan.warnings) emit({ type: 'warning', ...w });
  const steps = new StepTracker(emit, Date.now, plan.stages.filter((s) => s.needed).length);
  // One stage failing stops the others (their RUN processes are killed) before the build ends.
  const stop = new AbortController();
  const signal = opts.signal === undefined ? stop.signal : AbortSignal.any([opts.signal, stop.signal]);
  const builder = new Builder({ ...opts, signal }, bases, tmpDir, emit, steps, plan, opts.signal);
  let cleaning: Promise<void> | undefined;
  try {
    const env = builder.env(now, definition.ignore.matcher);
    const needed = plan.stages.filter((stage) => stage.needed);
    await runStages(
      needed.map((stage) => ({ index: stage.index, dependsOn: stage.dependsOn })),
      opts.jobs ?? Math.max(1, availableParallelism()),
      (index) => builder.runStage(plan.stages[index] as PlannedStage, env, definition.stages.escapeToken),
      () => stop.abort(new HoistError('STAGE_CANCELED', 'canceled: another stage of the build failed', { hint: 'see the error of the stage that failed' })),
    );
    const target = plan.stages[plan.target] as PlannedStage;
    const final = builder.result(target.index);
    const platform = target.platform ? parsePlatform(target.platform) : opts.targetPlatform;
    const replayed = opts.epoch === undefined ? builder.cache?.replayedTime(() => baseTime(final, formatCreated(now))) : undefined;
    const created = replayed ?? formatCreated(opts.epoch === undefined ? now : new Date(opts.epoch * 1000));
    // Every step came from the cache: what was replayed (ENV, LABEL, ...) takes the cached steps' time, not now.
    if (replayed !== undefined) retime(final, formatCreated(now), replayed);
    const annotations = Object.fromEntries(opts.annotations ?? []);
    const image = imageFromParts({ config: imageConfig(final, platform, created, opts.labels), layers: final.layers, annotations });
    const digest = await image.digest();
    // The outputs read blobs only: the stages' root filesystems and spools go while the image is written.
    cleaning = builder.cleanup();
    cleaning.catch(() => undefined);
    // The cache entries are in the cache repository before the push: the pushed layers mount from there.
    await opts.cache?.store.flush?.();
    const writes = destinations(opts, image, refs, tmpDir);
    for (const [output, { description, streamed, write }] of writes.entries()) {
      opts.signal?.throwIfAborted();
      if (streamed === true) attempt.streamed = true;
      const started = Date.now();
      emit({ type: 'output-start', output: output + 1, description });
      await write();
      emit({ type: 'output-done', output: output + 1, durationMs: Date.now() - started });
    }
    opts.signal?.throwIfAborted();
    const report = await writeReports(image, refs, { digestFile: opts.digestFile, metadataFile: opts.metadataFile }, [...steps.records].sort((a, b) => a.step - b.step));
    await opts.cache?.digests.save({ context: opts.contextDir, transientContext: opts.contextTransient === true });
    return { image, digest, report, plan, warnings: plan.warnings };
  } finally {
    await (cleaning ?? builder.cleanup());
    await rm(tmpDir, { recursive: true, force: true });
  }
}
