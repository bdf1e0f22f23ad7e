/** A stage to build and the stages it reads (FROM, COPY --from, RUN --mount from=). */
export interface ScheduledStage {
  index: number;
  dependsOn: readonly number[];
}

/**
 * Builds stages as their dependencies finish, at most `jobs` at a time,
 * starting ready stages in index order (with `jobs` 1 this is the
 * sequential build). When one fails, `stop` is called so that the others
 * stop too, every running stage is waited for (no process or temporary
 * directory outlives the build), and the first failure is thrown.
 */
export async function runStages(stages: readonly ScheduledStage[], jobs: number, build: (index: number) => Promise<void>, stop: (reason: unknown) => void): Promise<void> {
  const waiting = [...stages].sort((a, b) => a.index - b.index);
  const planned = new Set(waiting.map((s) => s.index));
  const done = new Set<number>();
  const running = new Map<number, Promise<void>>();
  let failure: { err: unknown } | undefined;
  const ready = (s: ScheduledStage) => s.dependsOn.every((d) => done.has(d) || !planned.has(d));
  while (waiting.length > 0 || running.size > 0) {
    while (failure === undefined && running.size < Math.max(1, jobs)) {
      const next = waiting.findIndex(ready);
      if (next < 0) break;
      const [stage] = waiting.splice(next, 1) as [ScheduledStage];
      const run = build(stage.index).then(
        () => {
          done.add(stage.index);
          running.delete(stage.index);
        },
        (err: unknown) => {
          running.delete(stage.index);
          if (failure === undefined) {
            failure = { err };
            stop(err);
          }
        },
      );
      running.set(stage.index, run);
    }
    if (running.size === 0) {
      if (failure !== undefined) break;
      // Unreachable for a plan (the planner refuses cycles); said plainly rather than hanging.
      throw new Error(`stages ${waiting.map((s) => s.index).join(', ')} wait for stages that are not built`);
    }
    await Promise.race(running.values());
  }
  if (failure !== undefined) throw failure.err;
}
