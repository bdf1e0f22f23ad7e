import { expandInstruction } from '../../dockerfile/expand.js';
import { parseInstructionNode } from '../../dockerfile/instructions/parse-instruction.js';
import { parseDockerfile } from '../../dockerfile/parser/index.js';
import { ShellLex } from '../../dockerfile/shell/index.js';
import type { PlannedInstruction, PlannedStage } from '../plan/index.js';
import { validateExpanded } from '../plan/validate.js';
import type { StageState } from './stage-state.js';

/**
 * The ONBUILD triggers recorded in a registry base image, as steps that run
 * before the stage's own lines (BuildKit does the same), expanded with the
 * base's environment and located at the stage's FROM line.
 */
export function imageTriggers(state: StageState, stage: PlannedStage, escape: '\\' | '`'): PlannedInstruction[] {
  const triggers = state.config.OnBuild ?? [];
  if (triggers.length === 0) return [];
  const lex = new ShellLex(escape);
  const env = state.envMap();
  const file = `${stage.from.location.file} (ONBUILD of ${stage.base.kind === 'image' ? stage.base.ref : 'base'})`;
  return triggers.map((text) => {
    const parsed = parseDockerfile(`${text}\n`, file);
    const node = parsed.instructions[0];
    if (!node) throw new Error(`empty ONBUILD trigger in the base image`);
    const raw = parseInstructionNode({ ...node, startLine: stage.from.location.line, endLine: stage.from.location.line }, stage.from.location.file);
    const { instr } = expandInstruction(raw, env, lex);
    validateExpanded(instr);
    return { instr, env, fromOnbuild: true };
  });
}
