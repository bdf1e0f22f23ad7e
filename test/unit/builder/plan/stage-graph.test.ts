import { describe, expect, it } from 'vitest';
import { DockerfileError } from '../../../../src/dockerfile/errors.js';
import { HoistError } from '../../../../src/errors.js';
import { StageCycleError, neededStages, orderStages } from '../../../../src/builder/plan/stage-graph.js';
import { planText } from '../../../helpers/plan.js';

const MULTI = [
  'FROM scratch AS base', //   1  stage 0
  'FROM scratch AS tools', //  2  stage 1
  'FROM base AS build', //     3  stage 2
  'COPY --from=tools /x /x', // 4
  'FROM scratch AS unused', // 5  stage 3
  'FROM build', //             6  stage 4
  'COPY --from=0 /a /a', //    7
].join('\n');

describe('stage graph', () => {
  it('finds dependencies from FROM and from COPY --from by name or index', () => {
    const plan = planText(MULTI);
    expect(plan.stages.map((s) => s.dependsOn)).toEqual([[], [], [0, 1], [], [0, 2]]);
    expect(plan.target).toBe(4);
    expect(plan.stages.map((s) => s.needed)).toEqual([true, true, true, false, true]);
  });

  it('--target keeps only what the target needs (names are case-insensitive)', () => {
    const plan = planText(MULTI, { target: 'TOOLS' });
    expect(plan.target).toBe(1);
    expect(plan.stages.map((s) => s.needed)).toEqual([false, true, false, false, false]);
  });

  it('RUN --mount from= names a stage (by name only)', () => {
    const plan = planText('FROM scratch AS src\nFROM scratch\nRUN --mount=type=bind,from=src,target=/s true\nRUN --mount=type=bind,from=0,target=/s true\n');
    expect(plan.stages[1]?.dependsOn).toEqual([0]);
  });

  it('a --from naming no stage is an image, not a dependency', () => {
    const plan = planText('FROM scratch\nCOPY --from=alpine:3 /etc/os-release /\n');
    expect(plan.stages[0]?.dependsOn).toEqual([]);
  });

  it('FROM names only earlier stages, by exact name; anything else is an image', () => {
    const self = planText('FROM nginx AS nginx\n');
    expect(self.stages[0]?.base).toEqual({ kind: 'image', ref: 'nginx' });
    const forward = planText('FROM b AS a\nFROM scratch AS b\n');
    expect(forward.stages[0]?.base).toEqual({ kind: 'image', ref: 'b' });
    const upper = planText('FROM scratch AS builder\nFROM Builder\n');
    expect(upper.stages[1]?.base).toEqual({ kind: 'image', ref: 'Builder' });
  });

  it('refuses --from of a later stage or of its own stage, as BuildKit does', () => {
    expect(errorOf(() => planText('FROM scratch AS a\nCOPY --from=b / /\nFROM scratch AS b\n')).message).toBe(
      'Dockerfile:2: cannot copy from stage "b", it needs to be defined before current stage "a"',
    );
    expect(errorOf(() => planText('FROM scratch AS a\nCOPY --from=a / /\n')).message).toBe(
      'Dockerfile:2: cannot copy from stage "a", it needs to be defined before current stage "a"',
    );
    expect(errorOf(() => planText('FROM scratch AS a\nRUN --mount=from=b,target=/b x\nFROM scratch AS b\n')).message).toBe(
      'Dockerfile:2: cannot mount from stage "b", it needs to be defined before current stage "a"',
    );
  });

  it('refuses variables in --from and in mount from=', () => {
    expect(errorOf(() => planText('FROM scratch AS one\nFROM scratch\nARG SRC=one\nCOPY --from=$SRC /a /a\n')).message).toContain(
      'Dockerfile:4: variable expansion is not supported for --from',
    );
    expect(errorOf(() => planText('FROM scratch\nRUN --mount=from=$X,target=/x true\n')).message).toContain(
      "Dockerfile:2: 'from' doesn't support variable expansion",
    );
  });

  it('reports a malformed RUN --mount as the mount\'s error, not a stage reference\'s', () => {
    const err = errorOf(() => planText('FROM scratch AS src\nFROM scratch\nRUN --mount=type=bind,from=src,target=/s,z true\n')) as HoistError;
    expect(err.code).toBe('RUN_MOUNT_INVALID');
    expect(err.message).toBe("Dockerfile:3: RUN --mount: invalid field 'z' must be a key=value pair");
    expect(err.hint).toContain('type=bind|cache|tmpfs|secret|ssh');
    expect((errorOf(() => planText('FROM scratch AS one\nFROM scratch\nARG SRC=one\nCOPY --from=$SRC /a /a\n')) as HoistError).code).toBe('BAD_STAGE_REFERENCE');
  });

  it('an unknown --target is an error naming the known stages', () => {
    const err = errorOf(() => planText(MULTI, { target: 'nope' }));
    expect(err).toBeInstanceOf(HoistError);
    expect(err.message).toBe('target stage "nope" could not be found');
    expect((err as HoistError).hint).toContain('base, tools, build, unused');
  });

  it('refuses a --from index that does not exist', () => {
    expect(errorOf(() => planText('FROM scratch\nCOPY --from=3 /a /a\n')).message).toBe('Dockerfile:2: invalid stage index 3');
  });

  it('a blank base name is an error with a hint', () => {
    const err = errorOf(() => planText('ARG BASE\nFROM $BASE\n'));
    expect(err).toBeInstanceOf(DockerfileError);
    expect(err.message).toBe('Dockerfile:2: base name ($BASE) should not be blank');
  });

  it('a bad or empty FROM --platform is an error', () => {
    expect(errorOf(() => planText('ARG P\nFROM --platform=$P scratch\n')).message).toBe('Dockerfile:2: empty platform value from expression $P');
    expect(errorOf(() => planText('FROM --platform=a/b/c/d scratch\n')).message).toBe('Dockerfile:1: failed to parse platform a/b/c/d');
  });
});

describe('cycle check (defensive: BuildKit references point backwards, later sources may not)', () => {
  it('orders dependencies first', () => {
    expect(orderStages({ names: ['a', 'b', 'c'], deps: [[2], [0], []] })).toEqual([2, 0, 1]);
  });

  it('refuses a cycle with its path', () => {
    const err = errorOf(() => orderStages({ names: ['a', undefined, 'c'], deps: [[1], [2], [0]] }));
    expect(err).toBeInstanceOf(StageCycleError);
    expect(err.message).toBe('circular dependency detected on stage: "a" (stage 0) -> stage 1 -> "c" (stage 2) -> "a" (stage 0)');
  });

  it('neededStages follows dependencies transitively', () => {
    expect([...neededStages({ names: ['a', 'b', 'c', 'd'], deps: [[], [0], [1], []] }, 2)].sort()).toEqual([0, 1, 2]);
  });
});

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}
