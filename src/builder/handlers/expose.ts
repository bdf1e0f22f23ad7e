import type { ExposeInstr } from '../../dockerfile/instructions/types.js';
import { parseExposedPorts } from '../plan/index.js';
import type { StepContext } from '../executor/step-context.js';

export async function handleExpose(ctx: StepContext, instr: ExposeInstr): Promise<void> {
  const ports = (ctx.stage.config.ExposedPorts ??= {});
  const added = parseExposedPorts(instr.ports);
  for (const port of added) ports[port] = {};
  ctx.addHistory(`EXPOSE ${added.join(' ')}`);
}
