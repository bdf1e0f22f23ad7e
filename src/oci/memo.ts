/**
 * Lazy, memoized async values: the first call starts the work, later calls
 * share its promise. A failure is not cached, so a later call may retry.
 */
export function memo<T>(compute: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    if (pending === undefined) {
      const started = compute();
      pending = started;
      started.catch(() => {
        if (pending === started) pending = undefined;
      });
    }
    return pending;
  };
}
