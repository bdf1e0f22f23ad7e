import { HoistError } from '../../errors.js';
import type { ConfigFile, Image, ImageSource } from '../../oci/index.js';
import { parsePlatform, type BuildPlan, type PlatformSpec } from '../plan/index.js';

/** A registry image a stage is built on (or COPY --from reads), opened lazily: manifest and config only. */
export interface BaseImage {
  ref: string;
  image: Image;
  config: ConfigFile;
}

/**
 * Open every registry image the needed stages are built FROM, so that their
 * ENV can take part in expansion (as in BuildKit) before any work starts.
 */
export async function openBaseImages(plan: BuildPlan, source: ImageSource | undefined, target: PlatformSpec): Promise<Map<string, BaseImage>> {
  const bases = new Map<string, BaseImage>();
  for (const stage of plan.stages) {
    if (!stage.needed || stage.base.kind !== 'image') continue;
    const ref = stage.base.ref;
    const key = baseKey(ref, stage.platform);
    if (bases.has(key)) continue;
    if (!source) {
      throw new HoistError('NO_IMAGE_SOURCE', `FROM ${ref}: no registry access was configured`, { hint: 'this build API needs an image source for registry bases' });
    }
    const platform = stage.platform ? parsePlatform(stage.platform) : target;
    const image = await source.image(ref, platform);
    bases.set(key, { ref, image, config: await image.configFile() });
  }
  return bases;
}

export function baseKey(ref: string, platform: string | undefined): string {
  return `${ref}@@${platform ?? ''}`;
}
