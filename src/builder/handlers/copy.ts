import type { CopyInstr } from '../../dockerfile/instructions/types.js';
import { CopyPlanner } from '../copy/copy-entries.js';
import type { StepContext } from '../executor/step-context.js';
import { copyLayout, describeCopy, heredocItems, matchItems, sourceFsFor } from './copy-sources.js';

export async function handleCopy(ctx: StepContext, instr: CopyInstr): Promise<void> {
  const fs = await sourceFsFor(ctx, instr);
  const items = [...(await matchItems(instr, fs, instr.sources)), ...heredocItems(ctx, instr)];
  const planner = new CopyPlanner(await copyLayout(ctx, instr), items.length);
  for (const item of items) await planner.add(item);
  await ctx.addLayer(planner.entries(), describeCopy(instr));
}
