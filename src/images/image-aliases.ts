/**
 * buildx's `--build-context NAME=docker-image://REF`: wherever the
 * Dockerfile names the image NAME (FROM NAME, COPY --from=NAME), REF is
 * read instead. Names are compared as references (`alpine`,
 * `alpine:latest` and `docker.io/library/alpine` are one name).
 */
import { HoistError } from '../errors.js';
import { parseReference, type Image, type ImageSource, type Platform, type Reference } from '../oci/index.js';

const IMAGE_SCHEME = 'docker-image://';

/** One `--build-context` value as [name, image]; only the docker-image:// form is read. */
export function parseImageContext(value: string): [string, string] {
  const eq = value.indexOf('=');
  const name = eq < 0 ? '' : value.slice(0, eq);
  const source = eq < 0 ? '' : value.slice(eq + 1);
  if (name === '' || source === '') {
    throw new HoistError('BAD_BUILD_CONTEXT', `--build-context ${JSON.stringify(value)}: expected NAME=docker-image://REF`, { hint: 'write --build-context alpine=docker-image://alpine:3.20' });
  }
  if (!source.startsWith(IMAGE_SCHEME)) {
    throw new HoistError('UNSUPPORTED_BUILD_CONTEXT', `--build-context ${JSON.stringify(value)}: only images (docker-image://REF) can be named contexts so far`, {
      hint: 'copy the directory into the build context, or build it into an image and name that with docker-image://',
    });
  }
  const image = source.slice(IMAGE_SCHEME.length);
  for (const ref of [name, image]) {
    try {
      parseReference(ref);
    } catch (err) {
      throw new HoistError('BAD_BUILD_CONTEXT', `--build-context ${JSON.stringify(value)}: ${(err as Error).message}`, { hint: 'name and image must both be image references', cause: err });
    }
  }
  return [name, image];
}

function key(ref: Reference | string): string | undefined {
  try {
    return (typeof ref === 'string' ? parseReference(ref) : ref).withDefaultTag().string();
  } catch {
    return undefined; // not a reference: the source reports it
  }
}

/** `source`, with the images named in `aliases` ([name, image] pairs) read from their replacements. */
export function aliasedSource(source: ImageSource, aliases: ReadonlyArray<readonly [string, string]>): ImageSource {
  if (aliases.length === 0) return source;
  const byName = new Map(aliases.map(([name, image]) => [key(name), image]));
  return {
    image(ref?: Reference | string, platform?: Platform): Promise<Image> {
      const name = ref === undefined ? undefined : key(ref);
      const replacement = name === undefined ? undefined : byName.get(name);
      return source.image(replacement ?? ref, platform);
    },
  };
}
