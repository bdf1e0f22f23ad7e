import type { Heredoc, InstructionNode } from '../parser/index.js';
import type { SourceLocation } from '../../errors.js';

/** Exec form keeps its argv; shell form keeps the raw command string for the shell. */
export type CommandLine =
  | { form: 'exec'; argv: string[] }
  | { form: 'shell'; command: string };

export interface KeyValue {
  key: string;
  value: string;
}

interface Base {
  location: SourceLocation;
  /** The instruction as written (continuations joined), for history and errors. */
  original: string;
}

export interface FromInstr extends Base {
  kind: 'FROM';
  image: string;
  stageName: string | undefined;
  platform: string | undefined;
}

export interface RunInstr extends Base {
  kind: 'RUN';
  command: CommandLine;
  heredocs: Heredoc[];
  mounts: string[];
  network: string | undefined;
  security: string | undefined;
}

export interface CmdInstr extends Base {
  kind: 'CMD';
  command: CommandLine;
}

export interface EntrypointInstr extends Base {
  kind: 'ENTRYPOINT';
  command: CommandLine;
}

export interface CopyFlags {
  from: string | undefined;
  chown: string | undefined;
  chmod: string | undefined;
  link: boolean;
  parents: boolean;
  excludes: string[];
}

export interface CopyInstr extends Base, CopyFlags {
  kind: 'COPY';
  sources: string[];
  dest: string;
  heredocs: Heredoc[];
}

export interface AddInstr extends Base, CopyFlags {
  kind: 'ADD';
  sources: string[];
  dest: string;
  heredocs: Heredoc[];
  checksum: string | undefined;
  keepGitDir: boolean;
  unpack: boolean | undefined;
}

export interface EnvInstr extends Base {
  kind: 'ENV';
  pairs: KeyValue[];
}

export interface LabelInstr extends Base {
  kind: 'LABEL';
  pairs: KeyValue[];
}

export interface MaintainerInstr extends Base {
  kind: 'MAINTAINER';
  maintainer: string;
}

export interface ExposeInstr extends Base {
  kind: 'EXPOSE';
  ports: string[];
}

export interface VolumeInstr extends Base {
  kind: 'VOLUME';
  paths: string[];
}

export interface UserInstr extends Base {
  kind: 'USER';
  user: string;
}

export interface WorkdirInstr extends Base {
  kind: 'WORKDIR';
  path: string;
}

export interface ArgDecl {
  key: string;
  /** undefined when declared without a default (`ARG name`). */
  value: string | undefined;
}

export interface ArgInstr extends Base {
  kind: 'ARG';
  args: ArgDecl[];
}

export interface OnbuildInstr extends Base {
  kind: 'ONBUILD';
  /** The trigger as written, e.g. `RUN make`; recorded verbatim in the image config. */
  expression: string;
  /**
   * The trigger's AST. Like BuildKit, only its keyword is checked here; it is
   * typed when a stage built FROM this one runs it (`parseOnbuildTrigger`).
   */
  triggerNode: InstructionNode;
}

export interface StopsignalInstr extends Base {
  kind: 'STOPSIGNAL';
  signal: string;
}

/** Durations are in nanoseconds, as in the image config. */
export interface HealthcheckInstr extends Base {
  kind: 'HEALTHCHECK';
  /** `["NONE"]` disables; otherwise `["CMD", ...argv]` or `["CMD-SHELL", command]`. */
  test: string[];
  intervalNs: number | undefined;
  timeoutNs: number | undefined;
  startPeriodNs: number | undefined;
  startIntervalNs: number | undefined;
  retries: number | undefined;
}

export interface ShellInstr extends Base {
  kind: 'SHELL';
  shell: string[];
}

export type Instruction =
  | FromInstr
  | RunInstr
  | CmdInstr
  | EntrypointInstr
  | CopyInstr
  | AddInstr
  | EnvInstr
  | LabelInstr
  | MaintainerInstr
  | ExposeInstr
  | VolumeInstr
  | UserInstr
  | WorkdirInstr
  | ArgInstr
  | OnbuildInstr
  | StopsignalInstr
  | HealthcheckInstr
  | ShellInstr;

export type InstructionKind = Instruction['kind'];

export const INSTRUCTION_KINDS: readonly InstructionKind[] = [
  'FROM', 'RUN', 'CMD', 'ENTRYPOINT', 'COPY', 'ADD', 'ENV', 'LABEL', 'MAINTAINER',
  'EXPOSE', 'VOLUME', 'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL',
];
