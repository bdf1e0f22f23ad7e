import type { Warning } from '../errors.js';
import { DockerfileError } from './errors.js';
import { parseInstructionNode } from './instructions/parse-instruction.js';
import type { ArgInstr, FromInstr, Instruction } from './instructions/types.js';
import { parseDockerfile } from './parser/index.js';

export interface Stage {
  index: number;
  /** Lower-cased `AS` name, if any. */
  name: string | undefined;
  from: FromInstr;
  /** Everything after FROM, in order. */
  instructions: Instruction[];
}

/** A Dockerfile as typed instructions: the global ARGs, then the stages. */
export interface DockerfileStages {
  file: string;
  escapeToken: '\\' | '`';
  globalArgs: ArgInstr[];
  stages: Stage[];
  warnings: Warning[];
}

/** Parse and type a whole Dockerfile. Throws the first DockerfileError found. */
export function parseStages(text: string, file: string): DockerfileStages {
  const parsed = parseDockerfile(text, file);
  const globalArgs: ArgInstr[] = [];
  const stages: Stage[] = [];
  const firstLineOfName = new Map<string, number>();
  for (const node of parsed.instructions) {
    const instr = parseInstructionNode(node, file);
    if (instr.kind === 'FROM') {
      if (instr.stageName !== undefined) {
        const earlier = firstLineOfName.get(instr.stageName);
        if (earlier !== undefined) {
          throw new DockerfileError('DUPLICATE_STAGE', `duplicate stage name ${JSON.stringify(instr.stageName)}`, instr.location, {
            hint: `the name is first used at ${file}:${earlier}; give each stage its own name`,
          });
        }
        firstLineOfName.set(instr.stageName, instr.location.line);
      }
      stages.push({ index: stages.length, name: instr.stageName, from: instr, instructions: [] });
      continue;
    }
    const current = stages[stages.length - 1];
    if (current) {
      current.instructions.push(instr);
    } else if (instr.kind === 'ARG') {
      globalArgs.push(instr);
    } else {
      throw new DockerfileError('NO_STAGE', `${instr.kind} is not allowed before the first FROM`, instr.location, {
        hint: 'only ARG may come before the first FROM; start the stage with FROM <image>',
      });
    }
  }
  if (stages.length === 0) {
    throw new DockerfileError('NO_STAGE', 'the Dockerfile has no FROM instruction', { file, line: parsed.endLine || 1 }, {
      hint: 'start a build stage with FROM <image> (or FROM scratch)',
    });
  }
  return {
    file,
    escapeToken: parsed.directives.escape,
    globalArgs,
    stages,
    warnings: parsed.warnings,
  };
}
