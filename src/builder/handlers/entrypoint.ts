import type { EntrypointInstr } from '../../dockerfile/instructions/types.js';
import type { StepContext } from '../executor/step-context.js';
import { toArgv } from './command-line.js';

/**
 * As in Docker, ENTRYPOINT drops a CMD inherited from the base unless this
 * stage set one. `ENTRYPOINT []` clears Entrypoint (omitted, as BuildKit's
 * omitempty config does) and still drops an inherited CMD.
 */
export async function handleEntrypoint(ctx: StepContext, instr: EntrypointInstr): Promise<void> {
  const argv = toArgv(instr.command, ctx.stage.config.Shell);
  if (argv.length > 0) ctx.stage.config.Entrypoint = argv;
  else delete ctx.stage.config.Entrypoint;
  if (!ctx.stage.cmdSet) delete ctx.stage.config.Cmd;
  ctx.addHistory(`ENTRYPOINT ${JSON.stringify(argv)}`);
}
