import type { CommandLine, Instruction } from '../../dockerfile/instructions/types.js';
import type { BaseRef, BuildPlan } from './plan.js';

/** The plan as `hoist plan` prints it: plain JSON, stable key order. */
export interface PlanJson {
  target: number;
  stages: Array<{
    index: number;
    name: string | null;
    base: string;
    platform?: string;
    needed: boolean;
    dependsOn: number[];
    instructions: InstructionJson[];
  }>;
}

export interface InstructionJson {
  line: number;
  kind: Instruction['kind'];
  args: string[];
  flags: Record<string, string | boolean | number | string[]>;
  form?: 'exec' | 'shell';
  heredocs?: Array<{ name: string; content: string }>;
}

function command(c: CommandLine): { args: string[]; form: 'exec' | 'shell' } {
  return c.form === 'exec' ? { args: c.argv, form: 'exec' } : { args: [c.command], form: 'shell' };
}

function defined(entries: Record<string, string | boolean | number | string[] | undefined>): InstructionJson['flags'] {
  const out: InstructionJson['flags'] = {};
  for (const [k, v] of Object.entries(entries)) {
    if (v === undefined || v === false || (Array.isArray(v) && v.length === 0)) continue;
    out[k] = v;
  }
  return out;
}

export function describeInstruction(instr: Instruction): InstructionJson {
  const base = { line: instr.location.line, kind: instr.kind };
  switch (instr.kind) {
    case 'RUN':
      return {
        ...base, ...command(instr.command),
        flags: defined({ mount: instr.mounts, network: instr.network, security: instr.security }),
        ...(instr.heredocs.length ? { heredocs: instr.heredocs.map((h) => ({ name: h.name, content: h.content })) } : {}),
      };
    case 'CMD':
    case 'ENTRYPOINT':
      return { ...base, ...command(instr.command), flags: {} };
    case 'COPY':
    case 'ADD':
      return {
        ...base,
        args: [...instr.sources, ...instr.heredocs.map((h) => `<<${h.name}`), instr.dest],
        flags: defined({
          from: instr.from, chown: instr.chown, chmod: instr.chmod, link: instr.link, parents: instr.parents,
          exclude: instr.excludes,
          ...(instr.kind === 'ADD' ? { checksum: instr.checksum, 'keep-git-dir': instr.keepGitDir, unpack: instr.unpack } : {}),
        }),
        ...(instr.heredocs.length ? { heredocs: instr.heredocs.map((h) => ({ name: h.name, content: h.content })) } : {}),
      };
    case 'ENV':
    case 'LABEL':
      return { ...base, args: instr.pairs.map((kv) => `${kv.key}=${kv.value}`), flags: {} };
    case 'ARG':
      return { ...base, args: instr.args.map((a) => (a.value === undefined ? a.key : `${a.key}=${a.value}`)), flags: {} };
    case 'EXPOSE':
      return { ...base, args: instr.ports, flags: {} };
    case 'VOLUME':
      return { ...base, args: instr.paths, flags: {} };
    case 'SHELL':
      return { ...base, args: instr.shell, flags: {} };
    case 'HEALTHCHECK':
      return {
        ...base, args: instr.test,
        flags: defined({
          interval: instr.intervalNs, timeout: instr.timeoutNs, 'start-period': instr.startPeriodNs,
          'start-interval': instr.startIntervalNs, retries: instr.retries,
        }),
      };
    case 'ONBUILD':
      return { ...base, args: [instr.expression], flags: {} };
    case 'FROM':
      return { ...base, args: instr.stageName ? [instr.image, 'AS', instr.stageName] : [instr.image], flags: defined({ platform: instr.platform }) };
    case 'MAINTAINER':
      return { ...base, args: [instr.maintainer], flags: {} };
    case 'USER':
      return { ...base, args: [instr.user], flags: {} };
    case 'WORKDIR':
      return { ...base, args: [instr.path], flags: {} };
    case 'STOPSIGNAL':
      return { ...base, args: [instr.signal], flags: {} };
  }
}

function baseName(base: BaseRef, plan: BuildPlan): string {
  if (base.kind === 'scratch') return 'scratch';
  if (base.kind === 'image') return base.ref;
  const stage = plan.stages[base.index];
  return stage?.name ?? String(base.index);
}

export function planToJson(plan: BuildPlan): PlanJson {
  return {
    target: plan.target,
    stages: plan.stages.map((s) => ({
      index: s.index,
      name: s.name ?? null,
      base: baseName(s.base, plan),
      ...(s.platform !== undefined ? { platform: s.platform } : {}),
      needed: s.needed,
      dependsOn: s.dependsOn,
      instructions: s.instructions.map((p) => describeInstruction(p.instr)),
    })),
  };
}
