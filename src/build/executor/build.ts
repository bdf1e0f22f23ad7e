import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HoistError, type Warning } from '../../errors.js';
import { DockerfileError } from '../../dockerfile/errors.js';
import { DockerArchive, OciArchive, OciLayout, imageFromParts, parseReference, type BlobStore, type ConfigFile, type Image, type ImageSink, type Reference } from '../../oci/index.js';
import type { Digest } from '../../oci/digest.js';
import { loadBuildDefinition, type FrontendOptions } from '../frontend.js';
import type { OutputSpec } from '../outputs.js';
import { DEFAULT_PATH, parsePlatform, type BuildPlan, type PlannedStage, type PlatformSpec } from '../plan/index.js';
import { executeInstruction } from '../handlers/index.js';
import { formatCreated, StepContext, type BuildEnv } from './step-context.js';
import { StageState } from './stage-state.js';
import { writeReports, type BuildReport } from './reports.js';

export interface BuildOptions extends FrontendOptions {
  store: BlobStore;
  outputs: readonly OutputSpec[];
  tags: readonly string[];
  /** SOURCE_DATE_EPOCH, if set. */
  epoch?: number | undefined;
  now?: Date | undefined;
  digestFile?: string | undefined;
  metadataFile?: string | undefined;
  signal?: AbortSignal | undefined;
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

function sinkFor(output: OutputSpec): ImageSink {
  switch (output.type) {
    case 'oci':
      return new OciArchive(output.dest);
    case 'oci-layout':
      return new OciLayout(output.dest);
    case 'docker':
      return new DockerArchive(output.dest);
  }
}

function initialState(stage: PlannedStage, results: Map<number, StageState>): StageState {
  switch (stage.base.kind) {
    case 'scratch':
      return new StageState({ config: { Env: [`PATH=${DEFAULT_PATH}`] } });
    case 'stage': {
      const parent = results.get(stage.base.index);
      if (!parent) throw new Error(`stage ${stage.base.index} was not built before stage ${stage.index}`);
      const state = parent.clone();
      // The parent's ONBUILD triggers ran at the start of this stage (the plan put them there).
      delete state.config.OnBuild;
      return state;
    }
    case 'image':
      throw new DockerfileError(
        'IMAGE_BASE_UNSUPPORTED',
        `FROM ${stage.base.ref}: building on an image from a registry needs the registry client, which this version of hoist does not have yet`,
        stage.from.location,
        { hint: 'use FROM scratch or an earlier stage for now' },
      );
  }
}

/** Errors from deep inside a step are the user's: give them the instruction's location. */
function locate(err: unknown, location: { file: string; line: number }): unknown {
  if (err instanceof DockerfileError || !(err instanceof HoistError)) return err;
  return new DockerfileError(err.code, err.message, location, { ...(err.hint ? { hint: err.hint } : {}), cause: err });
}

function imageConfig(state: StageState, platform: PlatformSpec, created: string): ConfigFile {
  const config: ConfigFile = {
    created,
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: state.config,
    rootfs: { type: 'layers', diff_ids: state.diffIds },
    history: state.history,
  };
  if (state.author !== undefined) config.author = state.author;
  return config;
}

/** Build the Dockerfile's target stage and write it to every output. */
export async function build(opts: BuildOptions): Promise<BuildResult> {
  const definition = await loadBuildDefinition(opts);
  const { plan } = definition;
  const refs = parseTags(opts.tags);
  const now = opts.now ?? new Date();
  const tmpDir = await mkdtemp(path.join(tmpdir(), 'hoist-build-'));
  const results = new Map<number, StageState>();
  try {
    const env: BuildEnv = {
      store: opts.store,
      contextDir: opts.contextDir,
      ignore: definition.ignore.matcher,
      epoch: opts.epoch,
      now,
      tmpDir,
      signal: opts.signal,
      stageResult(index) {
        const state = results.get(index);
        if (!state) throw new Error(`stage ${index} is read before it was built`);
        return state;
      },
    };
    for (const stage of plan.stages) {
      if (!stage.needed) continue;
      const state = initialState(stage, results);
      for (const planned of stage.instructions) {
        opts.signal?.throwIfAborted();
        try {
          await executeInstruction(new StepContext(env, state, planned), planned.instr);
        } catch (err) {
          throw locate(err, planned.instr.location);
        }
      }
      results.set(stage.index, state);
    }
    const target = plan.stages[plan.target] as PlannedStage;
    const final = results.get(target.index) as StageState;
    const platform = target.platform ? parsePlatform(target.platform) : opts.targetPlatform;
    const created = formatCreated(opts.epoch === undefined ? now : new Date(opts.epoch * 1000));
    const image = imageFromParts({ config: imageConfig(final, platform, created), layers: final.layers });
    const digest = await image.digest();
    for (const output of opts.outputs) await sinkFor(output).write(image, refs);
    const report = await writeReports(image, refs, { digestFile: opts.digestFile, metadataFile: opts.metadataFile });
    return { image, digest, report, plan, warnings: plan.warnings };
  } finally {
    await rm(tmpDir, { recursive: true, force: true });
  }
}
