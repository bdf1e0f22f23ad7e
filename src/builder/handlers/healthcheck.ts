import type { HealthConfig } from '../../oci/index.js';
import type { HealthcheckInstr } from '../../dockerfile/instructions/types.js';
import type { StepContext } from '../executor/step-context.js';

/** Written into the config as BuildKit does (buildah drops it from OCI configs; we keep it). */
export async function handleHealthcheck(ctx: StepContext, instr: HealthcheckInstr): Promise<void> {
  const health: HealthConfig = { Test: instr.test };
  if (instr.intervalNs !== undefined) health.Interval = instr.intervalNs;
  if (instr.timeoutNs !== undefined) health.Timeout = instr.timeoutNs;
  if (instr.startPeriodNs !== undefined) health.StartPeriod = instr.startPeriodNs;
  if (instr.startIntervalNs !== undefined) health.StartInterval = instr.startIntervalNs;
  if (instr.retries !== undefined) health.Retries = instr.retries;
  ctx.stage.config.Healthcheck = health;
  ctx.addHistory(instr.original.trim());
}
