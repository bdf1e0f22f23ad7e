import type { UserInstr } from '../../dockerfile/instructions/types.js';
import type { StepContext } from '../executor/step-context.js';

export async function handleUser(ctx: StepContext, instr: UserInstr): Promise<void> {
  ctx.stage.config.User = instr.user;
  ctx.addHistory(`USER ${instr.user}`);
}
