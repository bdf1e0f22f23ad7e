import { DockerfileError } from '../../dockerfile/errors.js';
import type { Instruction } from '../../dockerfile/instructions/types.js';
import { parseMountSpec } from '../../dockerfile/instructions/mount.js';
import type { Stage } from '../../dockerfile/stages.js';
import { suggest } from '../../dockerfile/instructions/suggest.js';

/** FROM names an earlier stage by its exact (lower-case) name; anything else is an image. */
export function findBaseStage(stages: readonly Stage[], image: string, before: number): number | undefined {
  for (let i = before - 1; i >= 0; i--) if (stages[i]?.name === image) return i;
  return undefined;
}

function stageLabel(stage: Stage): string {
  return stage.name ?? String(stage.index);
}

/**
 * Stages an instruction reads from: `COPY/ADD --from` (a stage name or index)
 * and `RUN --mount from=` (a stage name). Like BuildKit, these take no
 * variables and may name only stages defined earlier; any other value is an
 * image reference.
 */
export function instructionStageDeps(instr: Instruction, stages: readonly Stage[], current: Stage): number[] {
  const fail = (message: string, hint?: string): never => {
    throw new DockerfileError('BAD_STAGE_REFERENCE', message, instr.location, hint ? { hint } : {});
  };
  const deps: number[] = [];
  const resolve = (ref: string, what: string, allowIndex: boolean): void => {
    if (ref.includes('$')) {
      fail(
        what === 'from'
          ? "'from' doesn't support variable expansion, define alias stage instead"
          : 'variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround',
      );
    }
    let index = stageNamed(stages, ref);
    if (index < 0 && allowIndex && /^\d+$/.test(ref)) {
      index = Number(ref);
      if (index >= stages.length) fail(`invalid stage index ${ref}`, `stages are numbered from 0 to ${stages.length - 1}`);
    }
    if (index < 0) {
      refuseNearMiss(ref, what, stages, current, fail);
      return;
    }
    if (index >= current.index) {
      const target = stages[index] as Stage;
      fail(
        `cannot ${what === 'from' ? 'mount' : 'copy'} from stage ${JSON.stringify(stageLabel(target))}, it needs to be defined before current stage ${JSON.stringify(stageLabel(current))}`,
        'move that stage above this one',
      );
    }
    deps.push(index);
  };
  if ((instr.kind === 'COPY' || instr.kind === 'ADD') && instr.from !== undefined && instr.from !== '') {
    resolve(instr.from, '--from', true);
  }
  // A malformed --mount is the mount's fault, reported with the code the RUN step itself uses for it.
  const badMount = (err: Error): never => {
    throw new DockerfileError('RUN_MOUNT_INVALID', `RUN --mount: ${err.message}`, instr.location, {
      hint: 'write --mount=type=bind|cache|tmpfs|secret|ssh,target=PATH[,option=value...] (BuildKit\'s options)',
    });
  };
  for (const from of runMountFroms(instr, badMount)) resolve(from, 'from', false);
  return deps;
}

/** The index of the stage named `ref` (names are lower case), or -1. */
function stageNamed(stages: readonly Stage[], ref: string): number {
  return stages.findIndex((s) => s.name === ref.toLowerCase());
}

/** The `from=` of each mount of a RUN that has one; a mount that does not parse goes to `bad` (and is skipped if `bad` returns). */
function runMountFroms(instr: Instruction, bad: (err: Error) => void): string[] {
  if (instr.kind !== 'RUN') return [];
  const froms: string[] = [];
  for (const m of instr.mounts) {
    try {
      const { from } = parseMountSpec(m);
      if (from !== undefined) froms.push(from);
    } catch (err) {
      bad(err as Error);
    }
  }
  return froms;
}

/**
 * A bare name (no registry, path, tag or digest) one typo away from a stage
 * name is a mistyped stage, not an image on Docker Hub: say so before any
 * registry is asked. An image with such a name is still reachable with a tag.
 */
function refuseNearMiss(ref: string, what: string, stages: readonly Stage[], current: Stage, fail: (message: string, hint?: string) => never): void {
  if (/[/:@.]/.test(ref)) return;
  const names = stages.filter((s) => s.index !== current.index && s.name !== undefined).map((s) => s.name as string);
  const near = suggest(ref, names);
  if (near === undefined) return;
  const flag = what === 'from' ? 'from=' : '--from=';
  fail(`no stage named ${ref} (did you mean ${near}?)`, `write ${flag}${near}; if you meant the image ${ref}, give it a tag: ${flag}${ref}:latest`);
}

/** The stage a COPY/ADD --from reads (already checked by instructionStageDeps). */
export function copyFromStage(instr: Instruction, stages: readonly Stage[]): number | undefined {
  if ((instr.kind !== 'COPY' && instr.kind !== 'ADD') || instr.from === undefined || instr.from === '') return undefined;
  const byName = stageNamed(stages, instr.from);
  if (byName >= 0) return byName;
  return /^\d+$/.test(instr.from) ? Number(instr.from) : undefined;
}

/** The stages a RUN's mounts read (`from=` a stage name, already checked by instructionStageDeps), by that name; undefined when none. */
export function runMountStages(instr: Instruction, stages: readonly Stage[]): ReadonlyMap<string, number> | undefined {
  const found = new Map<string, number>();
  for (const from of runMountFroms(instr, () => undefined)) {
    const index = stageNamed(stages, from);
    if (index >= 0) found.set(from, index);
  }
  return found.size > 0 ? found : undefined;
}
