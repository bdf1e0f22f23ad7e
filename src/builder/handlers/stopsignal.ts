import type { StopsignalInstr } from '../../dockerfile/instructions/types.js';
import type { StepContext } from '../executor/step-context.js';

export async function handleStopsignal(ctx: StepContext, instr: StopsignalInstr): Promise<void> {
  ctx.stage.config.StopSignal = instr.signal;
  ctx.addHistory(`STOPSIGNAL ${instr.signal}`);
}
