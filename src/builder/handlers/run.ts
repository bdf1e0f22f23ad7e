import { DockerfileError } from '../../dockerfile/errors.js';
import type { RunInstr } from '../../dockerfile/instructions/types.js';
import type { StepContext } from '../executor/step-context.js';

/** RUN needs an isolation runner and a snapshotter, which hoist does not have yet. */
export async function handleRun(_ctx: StepContext, instr: RunInstr): Promise<void> {
  throw new DockerfileError('RUN_UNSUPPORTED', 'RUN is not supported by this version of hoist yet', instr.location, {
    hint: 'hoist can build images whose stages use only FROM, COPY, ADD and metadata instructions; RUN support is coming with the runner',
  });
}
