import type { LabelInstr } from '../../dockerfile/instructions/types.js';
import type { StepContext } from '../executor/step-context.js';

export async function handleLabel(ctx: StepContext, instr: LabelInstr): Promise<void> {
  const labels = { ...(ctx.stage.config.Labels ?? {}) };
  for (const { key, value } of instr.pairs) labels[key] = value;
  ctx.stage.config.Labels = labels;
  ctx.addHistory(`LABEL ${instr.pairs.map((p) => `${p.key}=${p.value}`).join(' ')}`);
}
