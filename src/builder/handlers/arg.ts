import type { ArgInstr } from '../../dockerfile/instructions/types.js';
import type { StepContext } from '../executor/step-context.js';

/** ARG changes nothing in the image but its history; values are the plan's. */
export async function handleArg(ctx: StepContext, instr: ArgInstr): Promise<void> {
  const shown = instr.args.map((a) => {
    const value = ctx.planned.env.get(a.key);
    return a.value === undefined && value === undefined ? a.key : `${a.key}=${a.value ?? value ?? ''}`;
  });
  ctx.addHistory(`ARG ${shown.join(' ')}`);
}
