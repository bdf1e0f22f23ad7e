import type { CmdInstr } from '../../dockerfile/instructions/types.js';
import type { StepContext } from '../executor/step-context.js';
import { toArgv } from './command-line.js';

/** `CMD []` clears Cmd: BuildKit's config omits an empty list (Go's omitempty), so it reads as null. */
export async function handleCmd(ctx: StepContext, instr: CmdInstr): Promise<void> {
  const argv = toArgv(instr.command, ctx.stage.config.Shell);
  if (argv.length > 0) ctx.stage.config.Cmd = argv;
  else delete ctx.stage.config.Cmd;
  ctx.stage.cmdSet = true;
  ctx.addHistory(`CMD ${JSON.stringify(argv)}`);
}
