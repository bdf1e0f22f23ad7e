import type { Stage } from '../../dockerfile/stages.js';

/**
 * What a `--from` value or a FROM image names: an earlier or later stage
 * (by name, or for --from also by index), or otherwise an image.
 */
export function findStage(stages: readonly Stage[], ref: string, allowIndex: boolean): number | undefined {
  const lower = ref.toLowerCase();
  const byName = stages.findIndex((s) => s.name === lower);
  if (byName >= 0) return byName;
  if (allowIndex && /^\d+$/.test(ref)) {
    const index = Number(ref);
    return index < stages.length ? index : undefined;
  }
  return undefined;
}
