import type { OnbuildInstr } from '../../dockerfile/instructions/types.js';
import type { StepContext } from '../executor/step-context.js';

export async function handleOnbuild(ctx: StepContext, instr: OnbuildInstr): Promise<void> {
  (ctx.stage.config.OnBuild ??= []).push(instr.expression);
  ctx.addHistory(`ONBUILD ${instr.expression}`);
}
