/**
 * A stage's environment as it changes line by line, with a read-only view of
 * it as it was before each line. Copying the whole map for every line made a
 * Dockerfile of n ENV or ARG lines cost n² time and memory; here a value is
 * stored once, with the step it was set at, and a view finds the value that
 * was current at its step by binary search.
 */
export class EnvHistory {
  /** Per name, in the order names were first set: the steps it was set at and the values. */
  readonly #names = new Map<string, { steps: number[]; values: string[] }>();
  #step = 0;

  constructor(initial: Iterable<readonly [string, string]> = []) {
    for (const [key, value] of initial) this.set(key, value);
  }

  set(key: string, value: string): void {
    const entry = this.#names.get(key);
    if (entry === undefined) {
      this.#names.set(key, { steps: [this.#step], values: [value] });
    } else if (entry.steps.at(-1) === this.#step) {
      // No view has seen the value set earlier in this step.
      entry.values[entry.values.length - 1] = value;
    } else {
      entry.steps.push(this.#step);
      entry.values.push(value);
    }
  }

  /** The environment as it is now; later `set` calls do not change the view. */
  snapshot(): ReadonlyMap<string, string> {
    const view = new EnvView(this.#names, this.#step, this.#names.size);
    this.#step++;
    return view;
  }
}

class EnvView implements ReadonlyMap<string, string> {
  constructor(
    private readonly names: ReadonlyMap<string, { steps: number[]; values: string[] }>,
    private readonly step: number,
    readonly size: number,
  ) {}

  get(key: string): string | undefined {
    const entry = this.names.get(key);
    if (entry === undefined) return undefined;
    // The last value set at or before this view's step.
    let lo = 0;
    let hi = entry.steps.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((entry.steps[mid] as number) <= this.step) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? undefined : entry.values[lo - 1];
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  *entries(): MapIterator<[string, string]> {
    // Names are kept in first-set order, so the first `size` are exactly this view's.
    let seen = 0;
    for (const key of this.names.keys()) {
      if (seen++ === this.size) return;
      yield [key, this.get(key) as string];
    }
  }

  *keys(): MapIterator<string> {
    for (const [key] of this.entries()) yield key;
  }

  *values(): MapIterator<string> {
    for (const [, value] of this.entries()) yield value;
  }

  forEach(callback: (value: string, key: string, map: ReadonlyMap<string, string>) => void, thisArg?: unknown): void {
    for (const [key, value] of this.entries()) callback.call(thisArg, value, key, this);
  }

  [Symbol.iterator](): MapIterator<[string, string]> {
    return this.entries();
  }
}
