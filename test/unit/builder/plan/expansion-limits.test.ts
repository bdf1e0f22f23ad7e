import { describe, expect, it } from 'vitest';
import { DockerfileError } from '../../../../src/dockerfile/errors.js';
import { MAX_EXPANDED_TOTAL } from '../../../../src/dockerfile/expansion-budget.js';
import { EnvHistory } from '../../../../src/builder/plan/env-history.js';
import { labelsOf, planText } from '../../../helpers/plan.js';

function planError(text: string): DockerfileError {
  try {
    planText(text);
  } catch (err) {
    if (err instanceof DockerfileError) return err;
    throw err;
  }
  throw new Error('planned without error');
}

const doublings = (n: number) => 'ARG a=$a$a\n'.repeat(n);

describe('expansion limits in the plan', () => {
  it('an ARG that doubles itself fails at the line where it passes 1 MiB', () => {
    const err = planError(`FROM scratch\nARG a=x\n${doublings(30)}`);
    expect(err.code).toBe('BAD_EXPANSION');
    expect(err.location?.line).toBe(23);
    expect(err.message).toBe('Dockerfile:23: ARG: failed to process "$a$a": expanded word is longer than 1048576 characters');
    expect(err.hint).toContain('1048576');
  });

  it('deeply nested ${} fails at its line', () => {
    const word = '${a:-'.repeat(2_000) + 'z' + '}'.repeat(2_000);
    const err = planError(`FROM scratch\nLABEL a=b\nLABEL x=${word}\n`);
    expect(err.location?.line).toBe(3);
    expect(err.message).toContain('nested more than 256 levels deep');
  });

  it(`all expanded words together are capped at ${MAX_EXPANDED_TOTAL} characters`, () => {
    // a is 2^19 characters; each label below adds 2^20 more.
    const text = `FROM scratch\nARG a=x\n${doublings(19)}${'LABEL l=$a$a\n'.repeat(70)}`;
    const err = planError(text);
    expect(err.code).toBe('EXPANSION_TOO_LARGE');
    const line = err.location?.line ?? 0;
    expect(line).toBeGreaterThan(21 + 60);
    expect(line).toBeLessThan(21 + 66);
    expect(err.message).toContain(`exceed ${MAX_EXPANDED_TOTAL} characters`);
  });

  it('each line still sees the environment as it was before it', () => {
    const plan = planText('FROM scratch\nENV a=1\nARG b=$a\nENV a=2 c=$a\nARG b=$b$a\nLABEL v=$a$b$c\n');
    expect(labelsOf(plan)).toEqual(['v=2121']);
    const envs = plan.stages[0]?.instructions.map((p) => Object.fromEntries(p.env)) ?? [];
    expect(envs[0]).toEqual({ PATH: expect.any(String) });
    expect(envs[2]).toEqual({ PATH: expect.any(String), a: '1', b: '1' });
    expect(envs[4]).toEqual({ PATH: expect.any(String), a: '2', b: '12', c: '1' });
    expect(plan.stages[0]?.env.get('b')).toBe('12');
  });
});

describe('EnvHistory', () => {
  it('gives each view the values of its step, in first-set order', () => {
    const history = new EnvHistory([['PATH', '/bin']]);
    const first = history.snapshot();
    history.set('A', '1');
    history.set('PATH', '/usr/bin');
    history.set('A', '2');
    const second = history.snapshot();
    history.set('B', 'b');
    history.set('A', '3');
    const third = history.snapshot();

    expect([...first]).toEqual([['PATH', '/bin']]);
    expect(first.size).toBe(1);
    expect(first.get('A')).toBeUndefined();
    expect(first.has('A')).toBe(false);
    expect([...second]).toEqual([['PATH', '/usr/bin'], ['A', '2']]);
    expect([...third.keys()]).toEqual(['PATH', 'A', 'B']);
    expect([...third.values()]).toEqual(['/usr/bin', '3', 'b']);
    expect(third.size).toBe(3);
    expect(new Map(third)).toEqual(new Map([['PATH', '/usr/bin'], ['A', '3'], ['B', 'b']]));
  });

  it('keeps an empty value as set', () => {
    const history = new EnvHistory();
    history.set('E', '');
    const view = history.snapshot();
    expect(view.has('E')).toBe(true);
    expect(view.get('E')).toBe('');
  });
});
