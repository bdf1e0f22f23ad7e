import type { EnvInstr } from '../../dockerfile/instructions/types.js';
import type { StepContext } from '../executor/step-context.js';

export async function handleEnv(ctx: StepContext, instr: EnvInstr): Promise<void> {
  for (const { key, value } of instr.pairs) ctx.stage.setEnv(key, value);
  ctx.addHistory(`ENV ${instr.pairs.map((p) => `${p.key}=${p.value}`).join(' ')}`);
}
