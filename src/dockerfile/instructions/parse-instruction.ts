import { excerpt, type Heredoc, type InstructionNode } from '../parser/index.js';
import type { SourceLocation } from '../../errors.js';
import { DockerfileError } from '../errors.js';
import { FlagError, parseFlags, type FlagSpec, type ParsedFlags } from './flags.js';
import { parseHealthcheck } from './healthcheck.js';
import { InstructionError } from './instruction-error.js';
import { suggest } from './suggest.js';
import {
  INSTRUCTION_KINDS,
  type ArgDecl,
  type CommandLine,
  type CopyFlags,
  type Instruction,
  type InstructionKind,
  type KeyValue,
  type OnbuildInstr,
} from './types.js';

/** What an instruction handler gets: the node, its checked flags, and where it is. */
export interface ParseRequest {
  node: InstructionNode;
  flags: ParsedFlags;
  location: SourceLocation;
  name: InstructionKind;
}

const COPY_FLAGS = { from: 'string', chown: 'string', chmod: 'string', link: 'bool', parents: 'bool', exclude: 'strings' } as const;

const FLAGS: Readonly<Record<InstructionKind, FlagSpec>> = {
  FROM: { platform: 'string' },
  RUN: { mount: 'strings', network: 'string', security: 'string' },
  COPY: COPY_FLAGS,
  ADD: { ...COPY_FLAGS, checksum: 'string', 'keep-git-dir': 'bool', unpack: 'bool' },
  HEALTHCHECK: { interval: 'string', timeout: 'string', 'start-period': 'string', 'start-interval': 'string', retries: 'string' },
  CMD: {}, LABEL: {}, MAINTAINER: {}, EXPOSE: {}, ENV: {}, ENTRYPOINT: {}, VOLUME: {},
  USER: {}, WORKDIR: {}, ARG: {}, ONBUILD: {}, STOPSIGNAL: {}, SHELL: {},
};

type Handler = (req: ParseRequest) => Instruction;

function base(req: ParseRequest): { location: SourceLocation; original: string } {
  return { location: req.location, original: req.node.original };
}

function requireArgs(req: ParseRequest, min: number, what: string): string[] {
  if (req.node.args.length < min) throw new InstructionError(`${req.name} requires ${what}`);
  return req.node.args;
}

function exactlyOne(req: ParseRequest): string {
  const args = req.node.args;
  if (args.length !== 1) throw new InstructionError(`${req.name} requires exactly one argument`);
  return args[0] as string;
}

function commandLine(req: ParseRequest): CommandLine {
  const args = req.node.args;
  if (req.node.json) return { form: 'exec', argv: [...args] };
  return { form: 'shell', command: args.join(' ') };
}

function keyValueTriples(req: ParseRequest): KeyValue[] {
  const args = req.node.args;
  if (args.length === 0) throw new InstructionError(`${req.name} requires at least one argument`);
  if (args.length % 3 !== 0) throw new InstructionError(`${req.name} must have two arguments`);
  const pairs: KeyValue[] = [];
  for (let i = 0; i < args.length; i += 3) {
    const key = args[i] as string;
    if (key === '') throw new InstructionError(`${req.name} names can not be blank`);
    pairs.push({ key, value: args[i + 1] as string });
  }
  return pairs;
}

const HEREDOC_WORD = /^[0-9]*<<-?.+/;

/** COPY/ADD: split `src... dest` into path sources and the heredocs used as sources. */
function sourcesAndDest(req: ParseRequest): { sources: string[]; dest: string; heredocs: Heredoc[] } {
  const args = req.node.args;
  if (args.length < 2) {
    throw new InstructionError(
      `${req.name} requires at least two arguments, but only ${args.length === 1 ? 'one' : 'none'} was provided. Destination could not be determined.`,
      'write the source(s) then the destination, e.g. COPY app.js /app/',
    );
  }
  const dest = args[args.length - 1] as string;
  if (!req.node.json && HEREDOC_WORD.test(dest) && req.node.heredocs.length > 0) {
    throw new InstructionError(`${req.name} cannot accept a heredoc as a destination`);
  }
  const sources: string[] = [];
  const heredocs: Heredoc[] = [];
  let next = 0;
  for (const word of args.slice(0, -1)) {
    const doc = !req.node.json && HEREDOC_WORD.test(word) ? req.node.heredocs[next] : undefined;
    if (doc) {
      heredocs.push(doc);
      next++;
    } else {
      sources.push(word);
    }
  }
  return { sources, dest, heredocs };
}

function copyFlags(req: ParseRequest): CopyFlags {
  const f = req.flags;
  return {
    from: f.strings.get('from'),
    chown: f.strings.get('chown'),
    chmod: f.strings.get('chmod'),
    link: f.bools.get('link') ?? false,
    parents: f.bools.get('parents') ?? false,
    excludes: f.lists.get('exclude') ?? [],
  };
}

const VALID_STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

const HANDLERS: Readonly<Record<InstructionKind, Handler>> = {
  FROM(req) {
    const args = req.node.args;
    let stageName: string | undefined;
    if (args.length === 3 && (args[1] as string).toLowerCase() === 'as') {
      stageName = (args[2] as string).toLowerCase();
      if (!VALID_STAGE_NAME.test(stageName)) {
        throw new InstructionError(
          `invalid name for build stage: ${JSON.stringify(args[2])}, name can't start with a number or contain symbols`,
        );
      }
    } else if (args.length !== 1) {
      throw new InstructionError('FROM requires either one or three arguments', 'write FROM <image> [AS <name>]');
    }
    return { kind: 'FROM', ...base(req), image: args[0] as string, stageName, platform: req.flags.strings.get('platform') };
  },
  RUN(req) {
    if (req.node.args.length === 0) throw new InstructionError('RUN requires at least one argument');
    return {
      kind: 'RUN', ...base(req), command: commandLine(req), heredocs: req.node.heredocs,
      mounts: req.flags.lists.get('mount') ?? [],
      network: req.flags.strings.get('network'), security: req.flags.strings.get('security'),
    };
  },
  CMD: (req) => ({ kind: 'CMD', ...base(req), command: commandLine(req) }),
  ENTRYPOINT: (req) => ({ kind: 'ENTRYPOINT', ...base(req), command: commandLine(req) }),
  COPY: (req) => ({ kind: 'COPY', ...base(req), ...sourcesAndDest(req), ...copyFlags(req) }),
  ADD: (req) => ({
    kind: 'ADD', ...base(req), ...sourcesAndDest(req), ...copyFlags(req),
    checksum: req.flags.strings.get('checksum'),
    keepGitDir: req.flags.bools.get('keep-git-dir') ?? false,
    unpack: req.flags.bools.get('unpack'),
  }),
  ENV: (req) => ({ kind: 'ENV', ...base(req), pairs: keyValueTriples(req) }),
  LABEL: (req) => ({ kind: 'LABEL', ...base(req), pairs: keyValueTriples(req) }),
  MAINTAINER: (req) => ({ kind: 'MAINTAINER', ...base(req), maintainer: exactlyOne(req) }),
  EXPOSE: (req) => ({ kind: 'EXPOSE', ...base(req), ports: requireArgs(req, 1, 'at least one argument') }),
  VOLUME(req) {
    const paths = requireArgs(req, 1, 'at least one argument');
    if (paths.some((p) => p.trim() === '')) throw new InstructionError('VOLUME specified can not be an empty string');
    return { kind: 'VOLUME', ...base(req), paths };
  },
  USER: (req) => ({ kind: 'USER', ...base(req), user: exactlyOne(req) }),
  WORKDIR: (req) => ({ kind: 'WORKDIR', ...base(req), path: exactlyOne(req) }),
  ARG(req) {
    const args: ArgDecl[] = requireArgs(req, 1, 'at least one argument').map((word) => {
      const eq = word.indexOf('=');
      const key = eq < 0 ? word : word.slice(0, eq);
      if (key === '') throw new InstructionError('ARG names can not be blank');
      return { key, value: eq < 0 ? undefined : word.slice(eq + 1) };
    });
    return { kind: 'ARG', ...base(req), args };
  },
  ONBUILD(req) {
    const child = req.node.onbuild;
    if (!child) throw new InstructionError('ONBUILD requires at least one argument');
    const childName = child.keyword.toUpperCase();
    if (childName === 'ONBUILD') throw new InstructionError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
    if (childName === 'FROM' || childName === 'MAINTAINER') {
      throw new InstructionError(`${childName} isn't allowed as an ONBUILD trigger`);
    }
    const triggerNode = { ...child, startLine: req.node.startLine, endLine: req.node.endLine };
    const expression = req.node.original.replace(/^\s*onbuild\s*/i, '');
    return { kind: 'ONBUILD', ...base(req), expression, triggerNode };
  },
  STOPSIGNAL: (req) => ({ kind: 'STOPSIGNAL', ...base(req), signal: exactlyOne(req) }),
  HEALTHCHECK: (req) => ({ kind: 'HEALTHCHECK', ...base(req), ...parseHealthcheck(req.node, req.flags) }),
  SHELL(req) {
    if (!req.node.json) {
      throw new InstructionError('SHELL requires the arguments to be in JSON form', 'write SHELL ["/bin/bash", "-c"]');
    }
    return { kind: 'SHELL', ...base(req), shell: requireArgs(req, 1, 'at least one argument') };
  },
};

/** Turn one AST node into a typed instruction, checking its flags and arguments. */
export function parseInstructionNode(node: InstructionNode, file: string): Instruction {
  const location: SourceLocation = { file, line: node.startLine, endLine: node.endLine };
  const name = node.keyword.toUpperCase();
  if (!(INSTRUCTION_KINDS as readonly string[]).includes(name)) {
    const written = node.original.trim().split(/\s+/, 1)[0] ?? node.keyword;
    const guess = suggest(name, INSTRUCTION_KINDS);
    throw new DockerfileError(
      'UNKNOWN_INSTRUCTION',
      `unknown instruction: ${excerpt(written)}` + (guess ? ` (did you mean ${guess}?)` : ''),
      location,
      { hint: `valid instructions are ${INSTRUCTION_KINDS.join(', ')}` },
    );
  }
  const kind = name as InstructionKind;
  try {
    const flags = parseFlags(node.flags, FLAGS[kind], kind);
    return HANDLERS[kind]({ node, flags, location, name: kind });
  } catch (err) {
    if (err instanceof FlagError) throw new DockerfileError('BAD_FLAG', err.message, location);
    if (err instanceof InstructionError) {
      throw new DockerfileError('BAD_INSTRUCTION', err.message, location, err.hint ? { hint: err.hint } : {});
    }
    throw err;
  }
}

/** Type an ONBUILD trigger when a child stage runs it; errors point at the ONBUILD line. */
export function parseOnbuildTrigger(onbuild: OnbuildInstr): Instruction {
  return parseInstructionNode(onbuild.triggerNode, onbuild.location.file);
}
