import type { MaintainerInstr } from '../../dockerfile/instructions/types.js';
import type { StepContext } from '../executor/step-context.js';

/** Deprecated, but still the image's `author`, as in Docker. */
export async function handleMaintainer(ctx: StepContext, instr: MaintainerInstr): Promise<void> {
  ctx.stage.author = instr.maintainer;
  ctx.addHistory(`MAINTAINER ${instr.maintainer}`);
}
