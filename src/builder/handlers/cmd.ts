import type { CmdInstr } from '../../dockerfile/instructions/types.js';
import type { StepContext } from '../executor/step-context.js';
import { toArgv } from './command-line.js';

export async function handleCmd(ctx: StepContext, instr: CmdInstr): Promise<void> {
  const argv = toArgv(instr.command, ctx.stage.config.Shell);
  ctx.stage.config.Cmd = argv;
  ctx.stage.cmdSet = true;
  ctx.addHistory(`CMD ${JSON.stringify(argv)}`);
}
