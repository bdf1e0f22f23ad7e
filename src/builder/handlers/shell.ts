import type { ShellInstr } from '../../dockerfile/instructions/types.js';
import type { StepContext } from '../executor/step-context.js';

export async function handleShell(ctx: StepContext, instr: ShellInstr): Promise<void> {
  ctx.stage.config.Shell = [...instr.shell];
  ctx.addHistory(`SHELL [${instr.shell.join(' ')}]`);
}
