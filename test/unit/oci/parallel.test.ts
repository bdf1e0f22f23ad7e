import { describe, expect, it } from 'vitest';
import { largestFirst, mapLimit } from '../../../src/oci/parallel.js';

const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('mapLimit', () => {
  it('keeps results in input order and never runs more than the limit at once', async () => {
    let running = 0;
    let most = 0;
    const out = await mapLimit([30, 5, 20, 1, 10, 2], 3, async (ms, i) => {
      running++;
      most = Math.max(most, running);
      await tick(ms);
      running--;
      return i * 10;
    });
    expect(out).toEqual([0, 10, 20, 30, 40, 50]);
    expect(most).toBe(3);
  });

  it('starts nothing new after a failure, and throws it', async () => {
    const started: number[] = [];
    const err = await mapLimit([1, 2, 3, 4, 5], 1, async (n) => {
      started.push(n);
      if (n === 2) throw new Error('two failed');
      return n;
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('two failed');
    expect(started).toEqual([1, 2]);
  });
});

describe('largestFirst', () => {
  it('orders by size, largest first; equal sizes keep their order; the input is not changed', () => {
    const items = [
      { name: 'config', size: 900 },
      { name: 'small', size: 10 },
      { name: 'base', size: 5000 },
      { name: 'a', size: 300 },
      { name: 'b', size: 300 },
    ];
    expect(largestFirst(items, (x) => x.size).map((x) => x.name)).toEqual(['base', 'config', 'a', 'b', 'small']);
    expect(items[0]?.name).toBe('config');
  });

  it('a bounded pool fed largest first starts the large transfer at once', async () => {
    const order: string[] = [];
    const blobs = [
      { name: 'tiny', size: 1 },
      { name: 'small', size: 2 },
      { name: 'large', size: 100 },
    ];
    await mapLimit(largestFirst(blobs, (b) => b.size), 1, async (b) => {
      order.push(b.name);
    });
    expect(order).toEqual(['large', 'small', 'tiny']);
  });
});
