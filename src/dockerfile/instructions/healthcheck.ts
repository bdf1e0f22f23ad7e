import type { InstructionNode } from '../parser/index.js';
import type { ParsedFlags } from './flags.js';
import { parseGoDuration } from './duration.js';
import { InstructionError } from './instruction-error.js';

const MIN_INTERVAL_NS = 1e6;

function interval(flags: ParsedFlags, name: string): number | undefined {
  const text = flags.strings.get(name);
  if (text === undefined || text === '') return undefined;
  let ns: number;
  try {
    ns = parseGoDuration(text);
  } catch (err) {
    throw new InstructionError(`HEALTHCHECK --${name}: ${(err as Error).message}`, 'use a duration such as 30s, 1m30s or 500ms');
  }
  if (ns === 0) return undefined;
  if (ns < 0) throw new InstructionError(`HEALTHCHECK --${name}: interval ${JSON.stringify(text)} cannot be negative`);
  if (ns < MIN_INTERVAL_NS) {
    throw new InstructionError(`HEALTHCHECK --${name}: interval ${JSON.stringify(text)} cannot be less than 1ms`);
  }
  return ns;
}

export function parseHealthcheck(node: InstructionNode, flags: ParsedFlags) {
  const args = node.args;
  const type = args[0]?.toUpperCase();
  if (type === undefined) throw new InstructionError('HEALTHCHECK requires at least one argument');
  let test: string[];
  if (type === 'NONE') {
    if (args.length !== 1) throw new InstructionError('HEALTHCHECK NONE takes no arguments');
    test = ['NONE'];
  } else if (type === 'CMD') {
    const command = args.slice(1);
    if (command.length === 0) throw new InstructionError('Missing command after HEALTHCHECK CMD');
    test = node.json ? ['CMD', ...command] : ['CMD-SHELL', command.join(' ')];
  } else {
    throw new InstructionError(`Unknown type ${JSON.stringify(args[0])} in HEALTHCHECK (try CMD)`);
  }
  let retries: number | undefined;
  const retriesText = flags.strings.get('retries');
  if (retriesText !== undefined && retriesText !== '') {
    if (!/^[-+]?\d+$/.test(retriesText)) throw new InstructionError(`HEALTHCHECK --retries: invalid number ${JSON.stringify(retriesText)}`);
    retries = Number(retriesText);
    if (retries < 0) throw new InstructionError(`HEALTHCHECK --retries cannot be negative (${retries})`);
  }
  return {
    test,
    intervalNs: interval(flags, 'interval'),
    timeoutNs: interval(flags, 'timeout'),
    startPeriodNs: interval(flags, 'start-period'),
    startIntervalNs: interval(flags, 'start-interval'),
    retries,
  };
}
