import type { Instruction, InstructionKind } from '../../dockerfile/instructions/types.js';
import type { StepContext } from '../executor/step-context.js';
import { handleArg } from './arg.js';
import { handleCmd } from './cmd.js';
import { handleCopy } from './copy.js';
import { handleEntrypoint } from './entrypoint.js';
import { handleEnv } from './env.js';
import { handleExpose } from './expose.js';
import { handleHealthcheck } from './healthcheck.js';
import { handleLabel } from './label.js';
import { handleMaintainer } from './maintainer.js';
import { handleOnbuild } from './onbuild.js';
import { handleShell } from './shell.js';
import { handleStopsignal } from './stopsignal.js';
import { handleUser } from './user.js';
import { handleVolume } from './volume.js';
import { handleWorkdir } from './workdir.js';

type Handlers = { [K in Exclude<InstructionKind, 'FROM'>]: (ctx: StepContext, instr: Extract<Instruction, { kind: K }>) => Promise<void> };

/** One handler per instruction; FROM is where a stage starts, not a step. */
const HANDLERS: Readonly<Handlers> = {
  // RUN brings the runners, mounts and snapshotters: loaded by the first RUN that runs.
  RUN: async (ctx, instr) => (await import('./run.js')).handleRun(ctx, instr),
  CMD: handleCmd,
  ENTRYPOINT: handleEntrypoint,
  COPY: handleCopy,
  // ADD brings the archive readers and the URL download (undici): loaded by the first ADD that runs.
  ADD: async (ctx, instr) => (await import('./add.js')).handleAdd(ctx, instr),
  ENV: handleEnv,
  LABEL: handleLabel,
  MAINTAINER: handleMaintainer,
  EXPOSE: handleExpose,
  VOLUME: handleVolume,
  USER: handleUser,
  WORKDIR: handleWorkdir,
  ARG: handleArg,
  ONBUILD: handleOnbuild,
  STOPSIGNAL: handleStopsignal,
  HEALTHCHECK: handleHealthcheck,
  SHELL: handleShell,
};

export async function executeInstruction(ctx: StepContext, instr: Instruction): Promise<void> {
  if (instr.kind === 'FROM') throw new Error('FROM is not a step');
  const handler = HANDLERS[instr.kind] as (ctx: StepContext, instr: Instruction) => Promise<void>;
  await handler(ctx, instr);
}
