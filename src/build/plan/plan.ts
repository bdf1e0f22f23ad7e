import type { Warning } from '../../errors.js';
import { DockerfileError } from '../../dockerfile/errors.js';
import { expandInstruction, type Env } from '../../dockerfile/expand.js';
import type { ArgInstr, FromInstr, Instruction } from '../../dockerfile/instructions/types.js';
import { parseMountSpec } from '../../dockerfile/instructions/mount.js';
import { ShellLex } from '../../dockerfile/shell/index.js';
import type { DockerfileStages, Stage } from '../../dockerfile/stages.js';
import { PROXY_ARGS, platformArgs } from './builtin-args.js';
import type { PlatformSpec } from './platform.js';
import { StageCycleError, neededStages, orderStages, resolveTarget } from './stage-graph.js';
import { findStage } from './stage-refs.js';
import { validateExpanded } from './validate.js';

/** BuildKit's PATH for images that have none (FROM scratch). */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export type BaseRef = { kind: 'scratch' } | { kind: 'stage'; index: number } | { kind: 'image'; ref: string };

export interface PlannedInstruction {
  /** The instruction with its words expanded. */
  instr: Instruction;
  /** Build args in scope with a value (plus given proxy args): RUN's extra environment. */
  buildArgs: ReadonlyMap<string, string>;
}

export interface PlannedStage {
  index: number;
  name: string | undefined;
  from: FromInstr;
  base: BaseRef;
  platform: string | undefined;
  needed: boolean;
  dependsOn: number[];
  instructions: PlannedInstruction[];
  /** ENV at the end of the stage, as far as it is known (a remote base's ENV only if supplied). */
  env: ReadonlyMap<string, string>;
  /** Whether `env` includes the base image's ENV (always true for scratch and stage bases). */
  baseEnvKnown: boolean;
}

export interface BuildPlan {
  file: string;
  stages: PlannedStage[];
  target: number;
  /** Global (pre-FROM) ARGs with their values, for FROM lines. */
  globalArgs: ReadonlyMap<string, string>;
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

interface StageScope {
  env: Map<string, string>;
  args: ArgValues;
}

function definedOnly(values: ReadonlyMap<string, string | undefined>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of values) if (v !== undefined) out.set(k, v);
  return out;
}

/** ENV wins over an ARG of the same name. */
function expansionEnv(scope: StageScope): Env {
  const env = definedOnly(scope.args);
  for (const [k, v] of scope.env) env.set(k, v);
  return env;
}

function envFromLines(lines: readonly string[]): Map<string, string> {
  const env = new Map<string, string>();
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq > 0) env.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return env;
}

class Planner {
  private readonly lex: ShellLex;
  private readonly metaArgs: ArgValues;
  /** ARG values at the end of each planned stage, inherited by stages built FROM it. */
  private readonly finalArgs = new Map<number, ArgValues>();

  constructor(
    private readonly df: DockerfileStages,
    private readonly opts: PlanOptions,
  ) {
    this.lex = new ShellLex(df.escapeToken);
    this.metaArgs = new Map(platformArgs(opts.buildPlatform, opts.targetPlatform));
  }

  plan(): BuildPlan {
    for (const instr of this.df.globalArgs) this.declareGlobal(instr);
    const stages = this.df.stages;
    const froms = stages.map((s) => this.expandFrom(s));
    const bases = stages.map((s, i) => this.resolveBase(s, (froms[i] as FromInstr).image));
    const fromDeps = bases.map((b) => (b.kind === 'stage' ? [b.index] : []));
    const names = stages.map((s) => s.name);
    const order = orderStages({ names, deps: fromDeps });

    const planned: PlannedStage[] = new Array(stages.length);
    for (const i of order) {
      const stage = stages[i] as Stage;
      planned[i] = this.planStage(stage, froms[i] as FromInstr, bases[i] as BaseRef, planned);
    }
    const deps = planned.map((p) => p.dependsOn);
    orderStages({ names, deps });
    const target = resolveTarget(names, this.opts.target);
    const needed = neededStages({ names, deps }, target);
    for (const p of planned) p.needed = needed.has(p.index);
    return { file: this.df.file, stages: planned, target, globalArgs: definedOnly(this.metaArgs), warnings: this.warnings(planned) };
  }

  private declareGlobal(instr: ArgInstr): void {
    for (const decl of instr.args) {
      const one: ArgInstr = { ...instr, args: [decl] };
      const { instr: expanded } = expandInstruction(one, definedOnly(this.metaArgs), this.lex);
      const arg = expanded.args[0] as { key: string; value: string | undefined };
      this.metaArgs.set(arg.key, this.buildArgOr(arg.key, arg.value));
    }
  }

  private buildArgOr(key: string, fallback: string | undefined): string | undefined {
    return this.opts.buildArgs.get(key) ?? fallback;
  }

  private expandFrom(stage: Stage): FromInstr {
    const { instr } = expandInstruction(stage.from, definedOnly(this.metaArgs), this.lex);
    if (instr.image === '') {
      throw new DockerfileError('BAD_INSTRUCTION', `base name (${stage.from.image}) should not be blank`, stage.from.location, {
        hint: 'declare the ARG with a default before the first FROM, or pass --build-arg',
      });
    }
    return instr;
  }

  private resolveBase(stage: Stage, image: string): BaseRef {
    if (image === 'scratch') return { kind: 'scratch' };
    const index = findStage(this.df.stages, image, false);
    if (index === undefined) return { kind: 'image', ref: image };
    if (index === stage.index) {
      throw new DockerfileError('STAGE_CYCLE', `stage ${JSON.stringify(stage.name)} cannot be built FROM itself`, stage.from.location);
    }
    return { kind: 'stage', index };
  }

  private initialScope(base: BaseRef, planned: PlannedStage[]): { scope: StageScope; known: boolean } {
    switch (base.kind) {
      case 'scratch':
        return { scope: { env: new Map([['PATH', DEFAULT_PATH]]), args: new Map() }, known: true };
      case 'stage': {
        const parent = planned[base.index] as PlannedStage;
        return { scope: { env: new Map(parent.env), args: new Map(this.finalArgs.get(base.index)) }, known: parent.baseEnvKnown };
      }
      case 'image': {
        const lines = this.opts.baseImageEnv?.(base.ref);
        return { scope: { env: envFromLines(lines ?? []), args: new Map() }, known: lines !== undefined };
      }
    }
  }

  private planStage(stage: Stage, from: FromInstr, base: BaseRef, planned: PlannedStage[]): PlannedStage {
    const { scope, known } = this.initialScope(base, planned);
    const dependsOn = new Set<number>(base.kind === 'stage' ? [base.index] : []);
    const instructions: PlannedInstruction[] = [];
    for (const raw of stage.instructions) {
      const { instr } = expandInstruction(raw, expansionEnv(scope), this.lex);
      validateExpanded(instr);
      for (const d of this.stageDeps(instr, stage)) dependsOn.add(d);
      instructions.push({ instr, buildArgs: this.runArgs(scope) });
      if (instr.kind === 'ENV') for (const kv of instr.pairs) scope.env.set(kv.key, kv.value);
      if (instr.kind === 'ARG') for (const decl of instr.args) scope.args.set(decl.key, this.stageArgValue(decl.key, decl.value));
    }
    this.finalArgs.set(stage.index, scope.args);
    return {
      index: stage.index,
      name: stage.name,
      from,
      base,
      platform: from.platform,
      needed: false,
      dependsOn: [...dependsOn].sort((a, b) => a - b),
      instructions,
      env: scope.env,
      baseEnvKnown: known,
    };
  }

  /** BuildKit: a default wins over the global value; a build arg wins over both. */
  private stageArgValue(key: string, declared: string | undefined): string | undefined {
    const inherited = declared === undefined && this.metaArgs.has(key) ? this.metaArgs.get(key) : declared;
    return this.buildArgOr(key, inherited);
  }

  private runArgs(scope: StageScope): Map<string, string> {
    const args = definedOnly(scope.args);
    for (const [k, v] of this.opts.buildArgs) {
      if (PROXY_ARGS.has(k) && !args.has(k)) args.set(k, v);
    }
    return args;
  }

  private stageDeps(instr: Instruction, stage: Stage): number[] {
    const refs: string[] = [];
    if ((instr.kind === 'COPY' || instr.kind === 'ADD') && instr.from !== undefined) refs.push(instr.from);
    if (instr.kind === 'RUN') {
      for (const m of instr.mounts) {
        const from = parseMountSpec(m).from;
        if (from !== undefined) refs.push(from);
      }
    }
    const deps: number[] = [];
    for (const ref of refs) {
      const index = findStage(this.df.stages, ref, true);
      if (index === undefined) {
        if (/^\d+$/.test(ref)) {
          throw new DockerfileError('UNKNOWN_STAGE', `${instr.kind} --from=${ref}: there is no stage ${ref}`, instr.location, {
            hint: `stages are numbered from 0 to ${this.df.stages.length - 1}`,
          });
        }
        continue;
      }
      if (index === stage.index) {
        throw new DockerfileError('STAGE_CYCLE', `${instr.kind} --from=${ref} refers to its own stage`, instr.location, {
          hint: 'a stage cannot copy from itself',
        });
      }
      deps.push(index);
    }
    return deps;
  }

  private warnings(planned: PlannedStage[]): Warning[] {
    const warnings = [...this.df.warnings];
    const declared = new Set<string>();
    for (const instr of this.df.globalArgs) for (const a of instr.args) declared.add(a.key);
    for (const p of planned) {
      if (!p.needed) continue;
      for (const { instr } of p.instructions) if (instr.kind === 'ARG') for (const a of instr.args) declared.add(a.key);
    }
    const unused = [...this.opts.buildArgs.keys()].filter((k) => !declared.has(k) && !PROXY_ARGS.has(k)).sort();
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
