import type { LabelInstr } from '../../dockerfile/instructions/types.js';
import { setMapEntry } from '../../oci/map-entry.js';
import type { StepContext } from '../executor/step-context.js';

export async function handleLabel(ctx: StepContext, instr: LabelInstr): Promise<void> {
  // In place: the stage owns its config (a stage built FROM it starts from a deep copy).
  const labels = (ctx.stage.config.Labels ??= {});
  for (const { key, value } of instr.pairs) setMapEntry(labels, key, value);
  ctx.addHistory(`LABEL ${instr.pairs.map((p) => `${p.key}=${p.value}`).join(' ')}`);
}
