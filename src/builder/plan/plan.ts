import type { Warning } from '../../errors.js';
import { DockerfileError } from '../../dockerfile/errors.js';
import { expandInstruction, expandWord, type Env } from '../../dockerfile/expand.js';
import { ExpansionBudget } from '../../dockerfile/expansion-budget.js';
import { parseOnbuildTrigger } from '../../dockerfile/instructions/parse-instruction.js';
import type { ArgInstr, FromInstr, Instruction } from '../../dockerfile/instructions/types.js';
import { ShellLex } from '../../dockerfile/shell/index.js';
import type { DockerfileStages, Stage } from '../../dockerfile/stages.js';
import { NON_ENV_ARGS, PROXY_ARGS, automaticArgs, isBuilderArg } from './builtin-args.js';
import { formatPlatform, parsePlatform } from '../../oci/platform.js';
import type { Platform as PlatformSpec } from '../../oci/types.js';
import { EnvHistory } from './env-history.js';
import { StageCycleError, neededStages, orderStages, resolveTarget } from './stage-graph.js';
import { copyFromStage, findBaseStage, instructionStageDeps, runMountStages } from './stage-refs.js';
import { validateExpanded } from './validate.js';

/** BuildKit's PATH for images that have none (FROM scratch). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export type BaseRef = { kind: 'scratch' } | { kind: 'stage'; index: number } | { kind: 'image'; ref: string };

export interface PlannedInstruction {
  /** The instruction with its words expanded (as written, for stages that are not needed). */
  instr: Instruction;
  /**
   * The stage's environment just before this instruction, as BuildKit keeps
   * it: the base image's ENV, then ENV and valued ARG lines in order (a later
   * line wins). It is what expansion used and what RUN gets (plus proxy args).
   */
  env: ReadonlyMap<string, string>;
  /** True for the ONBUILD triggers of a parent stage, run before the stage's own lines. */
  fromOnbuild: boolean;
  /** COPY/ADD --from naming a stage: its index (an image reference leaves this undefined). */
  fromStage?: number | undefined;
  /** RUN --mount from= naming a stage: the stage's index by the name as written (an image reference is not in it). */
  mountStages?: ReadonlyMap<string, number> | undefined;
  /**
   * Set when the stage's base ENV is unknown (a registry image whose config
   * was not fetched) and expanding or checking this instruction failed: the
   * instruction is kept as written, and the build, which re-plans with the
   * base's config, reports the error if it is still one.
   */
  deferred?: string | undefined;
}

export interface PlannedStage {
  index: number;
  name: string | undefined;
  from: FromInstr;
  base: BaseRef;
  /** `os/arch[/variant]` from FROM --platform (or the parent stage's); undefined means the target platform. */
  platform: string | undefined;
  needed: boolean;
  dependsOn: number[];
  instructions: PlannedInstruction[];
  /** The environment at the end of the stage (empty for stages that are not needed). */
  env: ReadonlyMap<string, string>;
  /** Whether `env` includes the base image's ENV (always true for scratch and stage bases). */
  baseEnvKnown: boolean;
}

export interface BuildPlan {
  file: string;
  stages: PlannedStage[];
  target: number;
  /** Global (pre-FROM) and automatic ARGs with their values, as FROM lines saw them. */
  globalArgs: ReadonlyMap<string, string>;
  /** Proxy build args: added to every RUN's environment, kept out of the image. */
  proxyEnv: ReadonlyMap<string, string>;
  warnings: Warning[];
}

export interface PlanOptions {
  /** `--build-arg` values. */
  buildArgs: ReadonlyMap<string, string>;
  target?: string | undefined;
  buildPlatform: PlatformSpec;
  targetPlatform: PlatformSpec;
  /** ENV (`K=V` lines) of a remote base image, when the caller has fetched its config. */
  baseImageEnv?: (ref: string) => readonly string[] | undefined;
}

/** Values of declared ARGs; `undefined` means declared without any value. */
type ArgValues = Map<string, string | undefined>;

function definedOnly(values: ReadonlyMap<string, string | undefined>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of values) if (v !== undefined) out.set(k, v);
  return out;
}

/** `K=V` environment lines (an image config's Env) as a map; later lines win. */
export function envFromLines(lines: readonly string[]): Map<string, string> {
  const env = new Map<string, string>();
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq > 0) env.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return env;
}

/** What is known about a stage before expansion: its base and what it reads. */
interface StageShape {
  stage: Stage;
  from: FromInstr;
  base: BaseRef;
  platform: string | undefined;
  instructions: Array<{ instr: Instruction; fromOnbuild: boolean }>;
  deps: number[];
}

class Planner {
  private readonly lex: ShellLex;
  private readonly metaArgs: ArgValues = new Map();
  /** The valued entries of metaArgs, kept alongside so that each global ARG line does not copy them all. */
  private readonly globalEnv = new Map<string, string>();
  private readonly budget = new ExpansionBudget();

  constructor(
    private readonly df: DockerfileStages,
    private readonly opts: PlanOptions,
  ) {
    this.lex = new ShellLex(df.escapeToken);
  }

  plan(): BuildPlan {
    const names = this.df.stages.map((s) => s.name);
    const target = resolveTarget(names, this.opts.target);
    const targetStage = this.opts.target ? this.opts.target.toLowerCase() : (names[target] ?? 'default');
    for (const [k, v] of automaticArgs(this.opts.buildPlatform, this.opts.targetPlatform, targetStage)) {
      this.setGlobal(k, this.opts.buildArgs.get(k) ?? v);
    }
    for (const instr of this.df.globalArgs) this.declareGlobal(instr);

    const shapes: StageShape[] = [];
    for (const stage of this.df.stages) shapes.push(this.shape(stage, shapes));
    const deps = shapes.map((s) => s.deps);
    orderStages({ names, deps });
    const needed = neededStages({ names, deps }, target);

    const planned: PlannedStage[] = [];
    for (const shape of shapes) {
      planned.push(needed.has(shape.stage.index) ? this.expandStage(shape, planned) : this.unexpanded(shape));
    }
    return {
      file: this.df.file,
      stages: planned,
      target,
      globalArgs: definedOnly(this.metaArgs),
      proxyEnv: this.proxyEnv(),
      warnings: this.warnings(shapes, needed),
    };
  }

  private declareGlobal(instr: ArgInstr): void {
    for (const decl of instr.args) {
      const given = this.opts.buildArgs.get(decl.key);
      if (given !== undefined) {
        this.setGlobal(decl.key, given);
      } else if (decl.value !== undefined) {
        this.setGlobal(decl.key, this.expandWord(instr, decl.value, this.globalEnv));
      } else if (!this.metaArgs.has(decl.key)) {
        this.metaArgs.set(decl.key, undefined);
      }
    }
  }

  private setGlobal(key: string, value: string): void {
    this.metaArgs.set(key, value);
    this.globalEnv.set(key, value);
  }

  private expandWord(instr: Instruction, word: string, env: Env): string {
    return expandWord(word, env, this.lex, instr, this.budget);
  }

  private shape(stage: Stage, earlier: StageShape[]): StageShape {
    const { instr: from } = expandInstruction(stage.from, this.globalEnv, this.lex, this.budget);
    if (from.image === '') {
      throw new DockerfileError('BAD_INSTRUCTION', `base name (${stage.from.image}) should not be blank`, stage.from.location, {
        hint: 'declare the ARG with a default before the first FROM, or pass --build-arg',
      });
    }
    const parentIndex = from.image === 'scratch' ? undefined : findBaseStage(this.df.stages, from.image, stage.index);
    const base: BaseRef =
      from.image === 'scratch' ? { kind: 'scratch' } : parentIndex !== undefined ? { kind: 'stage', index: parentIndex } : { kind: 'image', ref: from.image };
    const parent = parentIndex === undefined ? undefined : earlier[parentIndex];
    const instructions: StageShape['instructions'] = [];
    for (const { instr } of parent?.instructions ?? []) {
      if (instr.kind === 'ONBUILD') instructions.push({ instr: parseOnbuildTrigger(instr), fromOnbuild: true });
    }
    for (const instr of stage.instructions) instructions.push({ instr, fromOnbuild: false });
    const deps = new Set<number>(parentIndex === undefined ? [] : [parentIndex]);
    for (const { instr } of instructions) for (const d of instructionStageDeps(instr, this.df.stages, stage)) deps.add(d);
    return {
      stage,
      from,
      base,
      platform: parent ? parent.platform : this.checkPlatform(stage.from, from.platform),
      instructions,
      deps: [...deps].sort((a, b) => a - b),
    };
  }

  private checkPlatform(raw: FromInstr, expanded: string | undefined): string | undefined {
    if (expanded === undefined) return undefined;
    if (expanded === '') {
      throw new DockerfileError('BAD_PLATFORM', `empty platform value from expression ${raw.platform ?? ''}`, raw.location, {
        hint: 'declare the ARG used in --platform before the first FROM, or pass it with --build-arg',
      });
    }
    try {
      return formatPlatform(parsePlatform(expanded, this.opts.buildPlatform));
    } catch (err) {
      throw new DockerfileError('BAD_PLATFORM', `failed to parse platform ${expanded}`, raw.location, { hint: 'write os/arch[/variant], e.g. linux/arm64', cause: err });
    }
  }

  private initialEnv(base: BaseRef, planned: PlannedStage[]): { env: EnvHistory; known: boolean } {
    switch (base.kind) {
      case 'scratch':
        return { env: new EnvHistory([['PATH', DEFAULT_PATH]]), known: true };
      case 'stage': {
        const parent = planned[base.index] as PlannedStage;
        return { env: new EnvHistory(parent.env), known: parent.baseEnvKnown };
      }
      case 'image': {
        const lines = this.opts.baseImageEnv?.(base.ref);
        return { env: new EnvHistory(envFromLines(lines ?? [])), known: lines !== undefined };
      }
    }
  }

  private expandStage(shape: StageShape, planned: PlannedStage[]): PlannedStage {
    const { env, known } = this.initialEnv(shape.base, planned);
    const instructions: PlannedInstruction[] = [];
    for (const { instr: raw, fromOnbuild } of shape.instructions) {
      const before = env.snapshot();
      let instr: Instruction;
      try {
        instr = expandInstruction(raw, before, this.lex, this.budget).instr;
        validateExpanded(instr);
      } catch (err) {
        if (known || !(err instanceof DockerfileError)) throw err;
        instructions.push({ instr: raw, env: before, fromOnbuild, fromStage: copyFromStage(raw, this.df.stages), mountStages: runMountStages(raw, this.df.stages), deferred: err.message });
        continue;
      }
      instructions.push({ instr, env: before, fromOnbuild, fromStage: copyFromStage(instr, this.df.stages), mountStages: runMountStages(instr, this.df.stages) });
      if (instr.kind === 'ENV') for (const kv of instr.pairs) env.set(kv.key, kv.value);
      if (instr.kind === 'ARG') {
        for (const decl of instr.args) {
          const value = this.stageArgValue(instr, decl.key, decl.value, before);
          if (value !== undefined && !NON_ENV_ARGS.has(decl.key)) env.set(decl.key, value);
        }
      }
    }
    return { ...this.common(shape), needed: true, instructions, env: env.snapshot(), baseEnvKnown: known };
  }

  /** BuildKit: a build arg wins; else the expanded default; else the global ARG's value. */
  private stageArgValue(instr: ArgInstr, key: string, declared: string | undefined, env: Env): string | undefined {
    const given = this.opts.buildArgs.get(key);
    if (given !== undefined) return given;
    if (declared !== undefined) return this.expandWord(instr, declared, env);
    return this.metaArgs.get(key);
  }

  private unexpanded(shape: StageShape): PlannedStage {
    const empty = new Map<string, string>();
    return {
      ...this.common(shape),
      needed: false,
      instructions: shape.instructions.map(({ instr, fromOnbuild }) => ({ instr, env: empty, fromOnbuild })),
      env: empty,
      baseEnvKnown: false,
    };
  }

  private common(shape: StageShape) {
    return { index: shape.stage.index, name: shape.stage.name, from: shape.from, base: shape.base, platform: shape.platform, dependsOn: shape.deps };
  }

  private proxyEnv(): Map<string, string> {
    const env = new Map<string, string>();
    for (const [k, v] of this.opts.buildArgs) if (PROXY_ARGS.has(k)) env.set(k, v);
    return env;
  }

  private warnings(shapes: StageShape[], needed: Set<number>): Warning[] {
    const warnings = [...this.df.warnings];
    const declared = new Set<string>(this.metaArgs.keys());
    for (const shape of shapes) {
      if (!needed.has(shape.stage.index)) continue;
      for (const { instr } of shape.instructions) if (instr.kind === 'ARG') for (const a of instr.args) declared.add(a.key);
    }
    const unused = [...this.opts.buildArgs.keys()].filter((k) => !declared.has(k) && !isBuilderArg(k)).sort();
    if (unused.length > 0) {
      warnings.push({
        code: 'UNUSED_BUILD_ARG',
        message: `one or more build-args [${unused.join(' ')}] were not consumed: no ARG instruction in the built stages declares them`,
      });
    }
    return warnings;
  }
}

/** Expand and check a whole Dockerfile against the build options. Throws before any work starts. */
export function planBuild(df: DockerfileStages, opts: PlanOptions): BuildPlan {
  try {
    return new Planner(df, opts).plan();
  } catch (err) {
    if (err instanceof StageCycleError) {
      const first = df.stages[err.stages[0] ?? 0];
      const location = first ? first.from.location : { file: df.file, line: 1 };
      throw new DockerfileError('STAGE_CYCLE', err.message, location, err.hint ? { hint: err.hint } : {});
    }
    throw err;
  }
}
