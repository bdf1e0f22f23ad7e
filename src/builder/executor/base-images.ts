import { HoistError, withLocation } from '../../errors.js';
import { suggest } from '../../dockerfile/instructions/suggest.js';
import type { ConfigFile, Image, ImageSource } from '../../oci/index.js';
import { parsePlatform, type BuildPlan, type PlannedStage, type PlatformSpec } from '../plan/index.js';
import { locate } from './locate.js';
import type { EmitEvent } from '../events.js';

/** A registry image a stage is built on (or COPY --from reads), opened lazily: manifest and config only. */
export interface BaseImage {
  ref: string;
  image: Image;
  config: ConfigFile;
}

/**
 * Open every registry image the needed stages are built FROM, so that their
 * ENV can take part in expansion (as in BuildKit) before any work starts.
 * A failure names the FROM line, and a stage whose name is close to the
 * image's (`FROM bulder` with a stage `builder`).
 */
export async function openBaseImages(
  plan: BuildPlan,
  source: ImageSource | undefined,
  target: PlatformSpec,
  emit: EmitEvent = () => undefined,
): Promise<Map<string, BaseImage>> {
  const bases = new Map<string, BaseImage>();
  for (const stage of plan.stages) {
    if (!stage.needed || stage.base.kind !== 'image') continue;
    const ref = stage.base.ref;
    const key = baseKey(ref, stage.platform);
    if (bases.has(key)) continue;
    try {
      if (!source) {
        throw new HoistError('NO_IMAGE_SOURCE', `FROM ${ref}: no registry access was configured`, { hint: 'this build API needs an image source for registry bases' });
      }
      const platform = stage.platform ? parsePlatform(stage.platform) : target;
      const base = bases.size + 1;
      const started = Date.now();
      emit({ type: 'base-start', base, ref });
      const image = await source.image(ref, platform);
      bases.set(key, { ref, image, config: await image.configFile() });
      emit({ type: 'base-done', base, durationMs: Date.now() - started });
    } catch (err) {
      throw fromFailure(err, plan, stage, ref);
    }
  }
  return bases;
}

/** A base image that cannot be opened, told at its FROM line; a near-miss of a stage name is pointed out. */
function fromFailure(err: unknown, plan: BuildPlan, stage: PlannedStage, ref: string): unknown {
  const located = locate(err, stage.from.location);
  if (!(located instanceof HoistError)) return located;
  const names = plan.stages.filter((s) => s.index !== stage.index && s.name !== undefined).map((s) => s.name as string);
  const near = ref.includes('/') || ref.includes(':') || ref.includes('@') ? undefined : suggest(ref, names);
  if (near === undefined) return located;
  const nearStage = plan.stages.find((s) => s.name === near) as PlannedStage;
  const where = nearStage.index > stage.index ? ` (stage ${near} is defined below this line; move it above to build on it)` : '';
  const hint = `no stage named ${ref} (did you mean ${near}?)${where}${located.hint ? `; otherwise: ${located.hint}` : ''}`;
  return withLocation(located, stage.from.location, { hint });
}

export function baseKey(ref: string, platform: string | undefined): string {
  return `${ref}@@${platform ?? ''}`;
}
