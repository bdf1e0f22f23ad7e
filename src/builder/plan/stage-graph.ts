import { HoistError } from '../../errors.js';

/** Stage dependencies as data: `deps[i]` are the stages stage i reads from. */
export interface StageGraphInput {
  names: ReadonlyArray<string | undefined>;
  deps: ReadonlyArray<ReadonlyArray<number>>;
}

/** A dependency cycle; `stages` is the closed path, first stage repeated last. */
export class StageCycleError extends HoistError {
  constructor(
    message: string,
    readonly stages: number[],
  ) {
    super('STAGE_CYCLE', message, {
      hint: 'a stage cannot depend (through FROM, COPY --from or RUN --mount from=) on itself or on a stage that depends on it',
    });
  }
}

function label(names: StageGraphInput['names'], i: number): string {
  const name = names[i];
  return name === undefined ? `stage ${i}` : `"${name}" (stage ${i})`;
}

/**
 * Orders stages so that every dependency comes before its users, and refuses
 * a cycle with the path that closes it.
 */
export function orderStages(graph: StageGraphInput): number[] {
  const state = new Array<'new' | 'visiting' | 'done'>(graph.names.length).fill('new');
  const order: number[] = [];
  const path: number[] = [];
  const visit = (i: number): void => {
    if (state[i] === 'done') return;
    if (state[i] === 'visiting') {
      const cycle = [...path.slice(path.indexOf(i)), i];
      const text = cycle.map((s) => label(graph.names, s)).join(' -> ');
      throw new StageCycleError(`circular dependency detected on stage: ${text}`, cycle);
    }
    state[i] = 'visiting';
    path.push(i);
    for (const d of graph.deps[i] ?? []) visit(d);
    path.pop();
    state[i] = 'done';
    order.push(i);
  };
  for (let i = 0; i < graph.names.length; i++) visit(i);
  return order;
}

/** The stages `target` needs, itself included. */
export function neededStages(graph: StageGraphInput, target: number): Set<number> {
  const needed = new Set<number>();
  const stack = [target];
  while (stack.length > 0) {
    const i = stack.pop() as number;
    if (needed.has(i)) continue;
    needed.add(i);
    stack.push(...(graph.deps[i] ?? []));
  }
  return needed;
}

/** `--target` by stage name (case-insensitive); default is the last stage. */
export function resolveTarget(names: StageGraphInput['names'], target: string | undefined): number {
  if (target === undefined || target === '') return names.length - 1;
  const wanted = target.toLowerCase();
  const index = names.findIndex((n) => n === wanted);
  if (index < 0) {
    const known = names.filter((n): n is string => n !== undefined);
    throw new HoistError('UNKNOWN_TARGET', `target stage ${JSON.stringify(target)} could not be found`, {
      hint: known.length ? `stages with names: ${known.join(', ')}` : 'no stage has a name; name one with FROM <image> AS <name>',
    });
  }
  return index;
}
