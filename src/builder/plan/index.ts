export { planBuild, envFromLines, DEFAULT_PATH } from './plan.js';
export type { BaseRef, BuildPlan, PlanOptions, PlannedInstruction, PlannedStage } from './plan.js';
export { planToJson, describeInstruction } from './plan-json.js';
export type { PlanJson, InstructionJson } from './plan-json.js';
export { parsePlatform, formatPlatform, platformFromNode } from './platform.js';
export type { PlatformSpec } from './platform.js';
export { parseExposedPorts } from './validate.js';
export { PROXY_ARGS } from './builtin-args.js';
