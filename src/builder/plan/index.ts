export { planBuild, envFromLines, DEFAULT_PATH } from './plan.js';
export type { BaseRef, BuildPlan, PlanOptions, PlannedInstruction, PlannedStage } from './plan.js';
export { planToJson, describeInstruction } from './plan-json.js';
export type { PlanJson, InstructionJson } from './plan-json.js';
export { parsePlatform, formatPlatform, platformFromNode } from '../../oci/platform.js';
/** An OS/architecture pair as in the OCI image index, e.g. linux/arm64. */
export type { Platform as PlatformSpec } from '../../oci/types.js';
export { parseExposedPorts } from './validate.js';
export { PROXY_ARGS } from './builtin-args.js';
