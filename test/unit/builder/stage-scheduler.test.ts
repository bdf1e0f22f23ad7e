import { describe, expect, it } from 'vitest';
import { runStages, type ScheduledStage } from '../../../src/builder/executor/stage-scheduler.js';

/** A stage build that stays running until the test lets it end. */
function gate(): { promise: Promise<void>; open: () => void; fail: (err: Error) => void } {
  let open = () => undefined as void;
  let fail = (_err: Error) => undefined as void;
  const promise = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('runStages', () => {
  // 0 <- 1, 0 <- 2, {1, 2} <- 3; 4 alone.
  const graph: ScheduledStage[] = [
    { index: 3, dependsOn: [1, 2] },
    { index: 0, dependsOn: [] },
    { index: 1, dependsOn: [0] },
    { index: 2, dependsOn: [0] },
    { index: 4, dependsOn: [] },
  ];

  it('with one job builds one stage after another, in index order as dependencies allow', async () => {
    const order: number[] = [];
    await runStages(graph, 1, async (i) => void order.push(i), () => undefined);
    expect(order).toEqual([0, 1, 2, 3, 4]);
  });

  it('runs ready stages at once up to the bound, and a stage only once what it reads is built', async () => {
    const gates = new Map<number, ReturnType<typeof gate>>();
    const started: number[] = [];
    let running = 0;
    let most = 0;
    const done = runStages(graph, 2, (i) => {
      started.push(i);
      running++;
      most = Math.max(most, running);
      const g = gate();
      gates.set(i, g);
      return g.promise.finally(() => running--);
    }, () => undefined);
    await tick();
    expect(started).toEqual([0, 4]);
    gates.get(0)?.open();
    await tick();
    expect(started).toEqual([0, 4, 1]);
    gates.get(4)?.open();
    await tick();
    expect(started).toEqual([0, 4, 1, 2]);
    gates.get(1)?.open();
    await tick();
    expect(started).toEqual([0, 4, 1, 2]); // 3 waits for 2
    gates.get(2)?.open();
    await tick();
    expect(started).toEqual([0, 4, 1, 2, 3]);
    gates.get(3)?.open();
    await done;
    expect(most).toBe(2);
  });

  it('on a failure stops the others, starts nothing more, waits for the running ones, and throws the first failure', async () => {
    const gates = new Map<number, ReturnType<typeof gate>>();
    const started: number[] = [];
    const stops: unknown[] = [];
    const boom = new Error('stage 0 failed');
    const done = runStages(graph, 2, (i) => {
      started.push(i);
      const g = gate();
      gates.set(i, g);
      return g.promise;
    }, (reason) => stops.push(reason));
    let settled = false;
    void done.catch(() => undefined).finally(() => (settled = true));
    await tick();
    gates.get(0)?.fail(boom);
    await tick();
    // Told to stop, 4 is still ending: the build waits for it, and starts nothing that depended on 0.
    expect(stops).toEqual([boom]);
    expect(settled).toBe(false);
    gates.get(4)?.fail(new Error('canceled'));
    await expect(done).rejects.toBe(boom);
    expect(started).toEqual([0, 4]);
  });
});
