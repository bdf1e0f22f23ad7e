import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseStages } from '../../../../src/dockerfile/stages.js';
import { planBuild } from '../../../../src/builder/plan/index.js';
import { AMD64 } from '../../../helpers/plan.js';

const DIR = fileURLToPath(new URL('../../../../../shared/conformance/real-dockerfiles/', import.meta.url));
const FILES = readdirSync(DIR).filter((f) => f.endsWith('.Dockerfile')).sort();

describe('real-world Dockerfiles type, expand and plan', () => {
  it('finds all 492 files', () => {
    expect(FILES).toHaveLength(492);
  });

  it.each(FILES)('%s', (name) => {
    const text = readFileSync(DIR + name, 'utf8');
    const stages = parseStages(text, name);
    // Bases such as `FROM ${BASE}` have no default in some files: give every
    // global ARG without a default a value, as their CI does with --build-arg.
    const buildArgs = new Map<string, string>();
    for (const a of stages.globalArgs.flatMap((i) => i.args)) if (a.value === undefined) buildArgs.set(a.key, 'placeholder');
    const plan = planBuild(stages, { buildArgs, buildPlatform: AMD64, targetPlatform: AMD64 });
    expect(plan.stages.length).toBe(stages.stages.length);
    expect(plan.stages[plan.target]?.needed).toBe(true);
  });
});
