/**
 * The build cache as the executor uses it: every step that changes files
 * (RUN, COPY, ADD, WORKDIR) is keyed (step-keys.ts) on the key of the files
 * it starts from, looked up, and on a hit restored without running: its
 * layer (already in the blob store) and its history entry are appended and
 * the stage's files are read from the layers again only when a later step
 * needs them. A miss runs the step and records it. Metadata-only steps
 * (ENV, LABEL, USER, ...) are replayed, never stored; what they change
 * reaches the keys of the steps that see it (RUN's environment, user, ...).
 *
 * Several builds on one cache dir: a missing step is built under a per-key
 * lock; whoever waited on it finds the record and restores it.
 */
import { posix } from 'node:path';
import type { FsView } from '../../../snapshot/fs-view.js';
import { canonicalJson } from '../cache/canonical.js';
import type { FileDigests } from '../cache/file-digests.js';
import type { StepCacheStore, StepRecord } from '../cache/local-store.js';
import { stepKey } from '../cache/step-key.js';
import type { Instruction } from '../../dockerfile/instructions/types.js';
import { storeLayer, type Layer } from '../../oci/index.js';
import { sha256Digest, type Digest } from '../../oci/digest.js';
import type { PlannedStage } from '../plan/index.js';
import { stepKeyFields, type ListingFs } from './step-keys.js';
import type { StepContext } from './step-context.js';

export interface StepCacheOptions {
  store: StepCacheStore;
  /** Content digests of context files, kept between builds. */
  digests: FileDigests;
  /** `--no-cache`: nothing is looked up; results are still recorded. */
  noLookups?: boolean | undefined;
  /** `--no-cache-filter`: stages (by name, or index) whose steps are not looked up. */
  noLookupStages?: ReadonlySet<string> | undefined;
}

/** Where a stage's files stand: the key of their state (base, then each layer by its diffID). */
export interface StageChain {
  key: string;
  lookups: boolean;
}

/** What the session needs from the build. */
export interface CacheHooks {
  /** A view of the stage's files read from `layers`, made when a step needs it. */
  layersView(layers: readonly Layer[]): Promise<FsView>;
  /** The manifest digest of an image COPY --from reads. */
  imageDigest(ref: string): Promise<Digest>;
}

const FILE_STEPS = new Set<Instruction['kind']>(['RUN', 'COPY', 'ADD', 'WORKDIR']);

export class StepCacheSession {
  private readonly stageKeys = new Map<number, string>();
  /** Whether any step that changes files ran in this build (then its time is now). */
  private ran = false;
  /** The latest `created` of the records restored. */
  private latestHit: string | undefined;

  constructor(
    private readonly opts: StepCacheOptions,
    private readonly hooks: CacheHooks,
    private readonly epoch: number | undefined,
  ) {}

  /** The chain a stage starts with: scratch, the base image's manifest digest, or the key of the stage it is built FROM. */
  startStage(stage: PlannedStage, baseDigest: Digest | undefined): StageChain {
    const lookups = this.opts.noLookups !== true && !(this.opts.noLookupStages?.has(stage.name ?? '') || this.opts.noLookupStages?.has(String(stage.index)));
    switch (stage.base.kind) {
      case 'scratch':
        return { key: 'scratch', lookups };
      case 'image':
        return { key: `image:${baseDigest as Digest}`, lookups };
      case 'stage':
        return { key: this.stageKey(stage.base.index), lookups };
    }
  }

  finishStage(index: number, chain: StageChain): void {
    this.stageKeys.set(index, chain.key);
  }

  private stageKey(index: number): string {
    const key = this.stageKeys.get(index);
    if (key === undefined) throw new Error(`stage ${index} is read before it was built`);
    return key;
  }

  /**
   * Run one step through the cache: `execute` runs it (a miss, or a step
   * without a key). Resolves once the step's files are in place, with
   * whether it was restored from the cache; `recorded` settles once a step
   * that ran is in the cache, which waits for its layer's blob (the build
   * goes on meanwhile; the key stays locked until then).
   */
  async step(ctx: StepContext, chain: StageChain, platform: string, execute: () => Promise<void>): Promise<{ cached: boolean; recorded: Promise<void> }> {
    const instr = ctx.planned.instr;
    const done = Promise.resolve();
    if (!FILE_STEPS.has(instr.kind)) {
      await execute();
      return { cached: false, recorded: done };
    }
    const listings: ListingFs[] = [];
    const fields = await stepKeyFields(ctx, instr, {
      digests: this.opts.digests,
      stageKey: (index) => this.stageKey(index),
      imageDigest: (ref) => this.hooks.imageDigest(ref),
      listings,
    });
    if (fields === undefined) {
      await execute();
      this.ran = true;
      chain.key = afterStep(chain.key, ctx);
      return { cached: false, recorded: done };
    }
    const key = stepKey({ parent: chain.key, platform, epoch: this.epoch ?? null, step: fields });
    const { store } = this.opts;
    const hit = async (): Promise<boolean> => {
      const record = chain.lookups ? await store.get(key) : undefined;
      if (record === undefined) return false;
      await this.restore(ctx, instr, record);
      return true;
    };
    let recorded = done;
    let cached = await hit();
    if (!cached) {
      let ran!: (cached: boolean) => void;
      const executed = new Promise<boolean>((resolve) => (ran = resolve));
      const build = async (): Promise<void> => {
        // Another build may have made it while this one waited for the key.
        if (await hit()) return ran(true);
        await execute();
        this.ran = true;
        const record = recordOf(ctx);
        ran(false);
        const changed = listings.map((l) => l.changedSince()).find((p) => p !== undefined);
        if (changed !== undefined) {
          // The layer may hold content the key does not describe: recorded, it would be a hit for the old content for good.
          ctx.env.emit({ type: 'warning', code: 'SOURCE_CHANGED', message: `${changed} changed while the build read it; this step is not cached`, location: instr.location });
          await record.catch(() => undefined);
          return;
        }
        await store.put(key, await record);
      };
      recorded = chain.lookups ? store.exclusive(key, build, ctx.env.signal) : build();
      recorded.catch(() => undefined);
      // A failure before the step ran (the lock, execute itself) rejects `recorded` and never resolves `executed`.
      cached = await Promise.race([executed, recorded.then(() => executed)]);
    }
    chain.key = afterStep(chain.key, ctx);
    return { cached, recorded };
  }

  /** The step's layer and history entry, as the record says, without running it. */
  private async restore(ctx: StepContext, instr: Instruction, record: StepRecord): Promise<void> {
    const { stage } = ctx;
    if (instr.kind === 'WORKDIR') stage.config.WorkingDir = posix.resolve(stage.workdir(), instr.path);
    if (this.latestHit === undefined || record.created > this.latestHit) this.latestHit = record.created;
    if (record.layer === undefined) {
      stage.history.push({ created: record.created, created_by: record.createdBy, empty_layer: true });
      return;
    }
    const { digest, diffId, size, mediaType } = record.layer;
    const layer = this.opts.store.layerOf?.(record.layer) ?? storeLayer(ctx.env.store, { mediaType, digest, size }, diffId);
    await stage.addCachedLayer(layer, diffId, (layers) => this.hooks.layersView(layers));
    stage.history.push({ created: record.created, created_by: record.createdBy });
    ctx.addedLayer = Promise.resolve({ digest, size });
  }

  /**
   * The image's time when every step that changes files came from the
   * cache: the latest of their records' (so that a rebuild that changed
   * nothing gives the same image without SOURCE_DATE_EPOCH); `unchanged`
   * when the build has no such step at all (only ENV, LABEL, CMD...: its
   * time must not be now either); undefined when a step ran.
   */
  replayedTime(unchanged: () => string): string | undefined {
    if (this.ran) return undefined;
    return this.latestHit ?? unchanged();
  }
}

/**
 * The chain after a step: the files it started from plus the layer it
 * made, by content. A step that ran again (no record, --no-cache, a step
 * without a key) and made something else leads later steps to other keys,
 * so nothing recorded on top of its earlier result is used on the new one.
 */
function afterStep(parent: string, ctx: StepContext): string {
  if (ctx.addedLayer === undefined) return parent;
  const diffId = ctx.stage.diffIds.at(-1) as Digest;
  return sha256Digest(canonicalJson({ format: 'hoist.cache.after-layer/v1', parent, diffId }));
}

/** The step's record: what it added is taken now, right after it ran; the layer's digest and size when its blob is stored. */
function recordOf(ctx: StepContext): Promise<StepRecord> {
  const { stage } = ctx;
  const history = stage.history.at(-1);
  const base = { created: history?.created ?? '', createdBy: history?.created_by ?? '' };
  if (ctx.addedLayer === undefined) return Promise.resolve(base);
  const layer = stage.layers.at(-1) as Layer;
  const diffId = stage.diffIds.at(-1) as Digest;
  return ctx.addedLayer.then(({ digest, size }) => ({ ...base, layer: { digest, diffId, size, mediaType: layer.mediaType() } }));
}
