import { describe, expect, it } from 'vitest';
import { DockerfileError } from '../../../../src/dockerfile/errors.js';
import { HoistError } from '../../../../src/errors.js';
import { planText } from '../../../helpers/plan.js';

const MULTI = [
  'FROM scratch AS base', //   1  stage 0
  'FROM base AS build', //     2  stage 1
  'COPY --from=tools /x /x', // 3
  'FROM scratch AS tools', //  4  stage 2
  'FROM scratch AS unused', // 5  stage 3
  'FROM build', //             6  stage 4
  'COPY --from=0 /a /a', //    7
].join('\n');

describe('stage graph', () => {
  it('finds dependencies from FROM, COPY --from by name (forward too) and by index', () => {
    const plan = planText(MULTI);
    expect(plan.stages.map((s) => s.dependsOn)).toEqual([[], [0, 2], [], [], [0, 1]]);
    expect(plan.target).toBe(4);
    expect(plan.stages.map((s) => s.needed)).toEqual([true, true, true, false, true]);
  });

  it('--target keeps only what the target needs', () => {
    const plan = planText(MULTI, { target: 'TOOLS' });
    expect(plan.target).toBe(2);
    expect(plan.stages.map((s) => s.needed)).toEqual([false, false, true, false, false]);
  });

  it('RUN --mount from= is a dependency', () => {
    const plan = planText('FROM scratch AS src\nFROM scratch\nRUN --mount=type=bind,from=src,target=/s true\n');
    expect(plan.stages[1]?.dependsOn).toEqual([0]);
  });

  it('a --from naming no stage is an image, not a dependency', () => {
    const plan = planText('FROM scratch\nCOPY --from=alpine:3 /etc/os-release /\n');
    expect(plan.stages[0]?.dependsOn).toEqual([]);
  });

  it('--from by a variable is expanded before it is resolved', () => {
    const plan = planText('FROM scratch AS one\nFROM scratch\nARG SRC=one\nCOPY --from=$SRC /a /a\n');
    expect(plan.stages[1]?.dependsOn).toEqual([0]);
  });

  it('an unknown --target is an error naming the known stages', () => {
    const err = catchError(() => planText(MULTI, { target: 'nope' }));
    expect(err).toBeInstanceOf(HoistError);
    expect(err.message).toBe('target stage "nope" could not be found');
    expect((err as HoistError).hint).toContain('base, build, tools, unused');
  });

  it('refuses a FROM cycle and a COPY --from cycle, with the path', () => {
    const fromCycle = catchError(() => planText('FROM b AS a\nFROM a AS b\n'));
    expect(fromCycle).toBeInstanceOf(DockerfileError);
    expect(fromCycle.message).toMatch(/^Dockerfile:\d: circular dependency detected on stage: "a" \(stage 0\) -> "b" \(stage 1\) -> "a"/);
    const copyCycle = catchError(() => planText('FROM scratch AS a\nCOPY --from=b / /\nFROM scratch AS b\nCOPY --from=a / /\n'));
    expect(copyCycle.message).toContain('circular dependency detected');
    const self = catchError(() => planText('FROM scratch AS a\nCOPY --from=a / /\n'));
    expect(self.message).toBe('Dockerfile:2: COPY --from=a refers to its own stage');
    const selfFrom = catchError(() => planText('FROM a AS a\n'));
    expect(selfFrom.message).toBe('Dockerfile:1: stage "a" cannot be built FROM itself');
  });

  it('refuses a --from index that does not exist', () => {
    const err = catchError(() => planText('FROM scratch\nCOPY --from=3 /a /a\n'));
    expect(err.message).toBe('Dockerfile:2: COPY --from=3: there is no stage 3');
  });

  it('a blank base name is an error with a hint', () => {
    const err = catchError(() => planText('ARG BASE\nFROM $BASE\n'));
    expect(err.message).toBe('Dockerfile:2: base name ($BASE) should not be blank');
  });
});

function catchError(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}
