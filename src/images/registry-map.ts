/**
 * Pulling through mirrors, as Kaniko's `--registry-mirror` and
 * `--registry-map` do: an image of a mapped registry is looked for on each
 * of its mirrors in turn (a mirror may add a repository prefix:
 * `mirror.example.com/dockerhub` reads `library/alpine` as
 * `dockerhub/library/alpine`), then on the original registry, unless the
 * fallback is switched off. As in Kaniko, any failure on a mirror (not only
 * "not found") moves on to the next one, with a warning.
 */
import { HoistError } from '../errors.js';
import { DEFAULT_DOMAIN, parseReference, type Image, type ImageSource, type Platform, type Reference } from '../oci/index.js';

/** Registry (as in a reference: `docker.io`, `host:5000`) -> mirrors, in order. */
export type RegistryMap = ReadonlyMap<string, readonly string[]>;

/** Kaniko and go-containerregistry call Docker Hub `index.docker.io`; hoist's references say `docker.io`. */
const HUB_ALIASES = new Set(['index.docker.io', 'registry-1.docker.io', 'docker.io']);

export function canonicalRegistry(host: string): string {
  const lower = host.toLowerCase();
  return HUB_ALIASES.has(lower) ? DEFAULT_DOMAIN : lower;
}

/**
 * `--registry-map` values (`orig=new;orig2=new2`, repeatable) and
 * `--registry-mirror` values (mirrors of Docker Hub), in Kaniko's order:
 * maps first, then mirrors appended to Docker Hub's list.
 */
export function parseRegistryMap(maps: readonly string[], mirrors: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (from: string, to: string, flag: string): void => {
    const target = to.trim().replace(/^[a-z]+:\/\//i, '').replace(/\/+$/, '');
    if (from.trim() === '' || target === '') {
      throw new HoistError('BAD_REGISTRY_MAP', `${flag}: expected REGISTRY=MIRROR, got ${JSON.stringify(`${from}=${to}`)}`, {
        hint: 'write --registry-map index.docker.io=mirror.example.com (several: separate with ;)',
      });
    }
    const key = canonicalRegistry(from.trim());
    out.set(key, [...(out.get(key) ?? []), target]);
  };
  for (const value of maps) {
    if (value === '') continue;
    for (const pair of value.split(';')) {
      const eq = pair.indexOf('=');
      if (eq < 0) add(pair, '', `--registry-map ${JSON.stringify(value)}`);
      add(pair.slice(0, eq), pair.slice(eq + 1), `--registry-map ${JSON.stringify(value)}`);
    }
  }
  for (const mirror of mirrors) add(DEFAULT_DOMAIN, mirror, `--registry-mirror ${JSON.stringify(mirror)}`);
  return out;
}

/** `ref` as found on `mirror` (`host[/prefix]`): same repository path under the prefix, same tag and digest. */
export function remapReference(ref: Reference, mirror: string): Reference {
  const slash = mirror.indexOf('/');
  const host = slash < 0 ? mirror : mirror.slice(0, slash);
  const prefix = slash < 0 ? '' : `${mirror.slice(slash + 1).replace(/\/+$/, '')}/`;
  const id = ref.digest !== undefined ? `@${ref.digest}` : `:${ref.tag ?? 'latest'}`;
  const tagged = ref.digest !== undefined && ref.tag !== undefined ? `:${ref.tag}` : '';
  return parseReference(`${host}/${prefix}${ref.path}${tagged}${id}`);
}

export interface MirroredSourceOptions {
  map: RegistryMap;
  /** Kaniko's `--skip-default-registry-fallback`: a mapped image is read from its mirrors only. */
  skipFallback?: boolean;
  /** The source that reads from a registry host (mirrors may need their own TLS policy). */
  sourceFor: (host: string) => ImageSource;
  /** Told when a mirror failed and the next place is tried. */
  onWarning?: (message: string) => void;
}

/** An ImageSource that reads mapped registries through their mirrors first. */
export function mirroredSource(opts: MirroredSourceOptions): ImageSource {
  return {
    async image(ref?: Reference | string, platform?: Platform): Promise<Image> {
      if (ref === undefined) return opts.sourceFor('').image(ref, platform);
      const reference = typeof ref === 'string' ? parseReference(ref) : ref;
      const mirrors = opts.map.get(canonicalRegistry(reference.domain)) ?? [];
      const failures: string[] = [];
      for (const mirror of mirrors) {
        const remapped = remapReference(reference, mirror);
        try {
          return await opts.sourceFor(remapped.domain).image(remapped, platform);
        } catch (err) {
          const why = err instanceof Error ? err.message : String(err);
          failures.push(`${remapped.string()}: ${why}`);
          opts.onWarning?.(`could not read ${reference.string()} from the mirror ${mirror} (${why}); trying the next${opts.skipFallback ? ' mirror' : ' mirror or the original registry'}`);
        }
      }
      if (mirrors.length > 0 && opts.skipFallback) {
        throw new HoistError('IMAGE_NOT_ON_MIRRORS', `${reference.string()} was found on none of its mirrors: ${failures.join('; ')}`, {
          hint: 'check the mirrors (--registry-mirror, --registry-map), or drop --skip-default-registry-fallback to read from the original registry',
        });
      }
      return opts.sourceFor(reference.domain).image(reference, platform);
    },
  };
}
