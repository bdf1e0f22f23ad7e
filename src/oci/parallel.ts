/**
 * Map over `items` with at most `limit` calls in flight; results keep input
 * order. After the first failure no new calls start, and that failure is thrown.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T, i);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/**
 * A copy of `items`, largest first (ties keep their order). With a bounded
 * pool, starting the longest transfers first ends the whole batch soonest:
 * a large layer listed last would otherwise run alone at the end.
 */
export function largestFirst<T>(items: readonly T[], size: (item: T) => number): T[] {
  return items
    .map((item, index) => ({ item, index, size: size(item) }))
    .sort((a, b) => b.size - a.size || a.index - b.index)
    .map((x) => x.item);
}
