import { parseStages } from '../../src/dockerfile/stages.js';
import { planBuild, type BuildPlan, type PlanOptions } from '../../src/builder/plan/index.js';

export const AMD64 = { os: 'linux', architecture: 'amd64' } as const;
export const ARM64 = { os: 'linux', architecture: 'arm64', variant: 'v8' } as const;

/** Plan a Dockerfile given as text, with build args as a plain object. */
export function planText(
  text: string,
  opts: { buildArgs?: Record<string, string>; target?: string; baseImageEnv?: PlanOptions['baseImageEnv'] } = {},
): BuildPlan {
  return planBuild(parseStages(text, 'Dockerfile'), {
    buildArgs: new Map(Object.entries(opts.buildArgs ?? {})),
    target: opts.target,
    buildPlatform: AMD64,
    targetPlatform: ARM64,
    ...(opts.baseImageEnv ? { baseImageEnv: opts.baseImageEnv } : {}),
  });
}

/** The LABEL/ENV pairs of one stage's instructions, as "k=v" strings, in order. */
export function labelsOf(plan: BuildPlan, stage = plan.stages.length - 1): string[] {
  const out: string[] = [];
  for (const { instr } of plan.stages[stage]?.instructions ?? []) {
    if (instr.kind === 'LABEL') out.push(...instr.pairs.map((p) => `${p.key}=${p.value}`));
  }
  return out;
}
