/**
 * The registry cache flags of `hoist build`: Kaniko's `--cache-repo REF`
 * and buildx's `--cache-to` / `--cache-from type=registry,ref=REF`, turned
 * into the one repository steps are looked up in and the one they are
 * recorded in.
 */
import { UsageError } from '../src/errors.js';
import { parseReference } from '../src/oci/index.js';

export interface RegistryCacheFlags {
  cacheRepo?: string | undefined;
  cacheTo: readonly string[];
  cacheFrom: readonly string[];
  /** false with Kaniko's --no-push-cache. */
  pushCache?: boolean | undefined;
}

export interface RegistryCacheTargets {
  /** Where steps are looked up after the local cache. */
  from?: string | undefined;
  /** Where results are recorded besides the local cache. */
  to?: string | undefined;
}

/** buildx's options of a registry cache that hoist takes without acting on them: it stores every step (mode=max) as its own artifact. */
const ACCEPTED_KEYS = new Set(['mode', 'image-manifest', 'oci-mediatypes', 'compression', 'compression-level', 'force-compression', 'ignore-error']);

/** `type=registry,ref=REF[,mode=max,...]`, or a bare REF (buildx's shorthand): the repository. */
export function parseCacheSpec(flag: string, spec: string): string {
  const hint = `write ${flag} type=registry,ref=REGISTRY/REPO (hoist shares its cache through a registry repository)`;
  if (!spec.includes('=')) return checkedRef(flag, spec, hint);
  const options = new Map<string, string>();
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=');
    options.set(eq < 0 ? part : part.slice(0, eq), eq < 0 ? '' : part.slice(eq + 1));
  }
  const type = options.get('type');
  if (type !== undefined && type !== 'registry') throw new UsageError(`${flag} ${JSON.stringify(spec)}: hoist has no ${type} cache`, { hint });
  for (const key of options.keys()) {
    if (key !== 'type' && key !== 'ref' && !ACCEPTED_KEYS.has(key)) throw new UsageError(`${flag} ${JSON.stringify(spec)}: unknown option ${JSON.stringify(key)}`, { hint });
  }
  const ref = options.get('ref');
  if (ref === undefined || ref === '') throw new UsageError(`${flag} ${JSON.stringify(spec)}: ref= is missing`, { hint });
  return checkedRef(flag, ref, hint);
}

function checkedRef(flag: string, ref: string, hint: string): string {
  try {
    return parseReference(ref).repository().string();
  } catch (err) {
    throw new UsageError(`${flag} ${JSON.stringify(ref)}: ${(err as Error).message}`, { hint });
  }
}

/** The repositories the flags name; --cache-repo is both unless --cache-from / --cache-to name another. */
export function registryCacheTargets(flags: RegistryCacheFlags): RegistryCacheTargets {
  const repo = flags.cacheRepo === undefined ? undefined : checkedRef('--cache-repo', flags.cacheRepo, 'write --cache-repo REGISTRY/REPO, e.g. registry.example.com/team/app/cache');
  const one = (flag: string, specs: readonly string[]): string | undefined => {
    const repos = [...new Set(specs.map((s) => parseCacheSpec(flag, s)))];
    if (repos.length > 1) throw new UsageError(`${flag} names ${repos.length} repositories (${repos.join(', ')}); hoist uses one`, { hint: `give ${flag} once` });
    return repos[0];
  };
  const from = one('--cache-from', flags.cacheFrom) ?? repo;
  const to = flags.pushCache === false ? undefined : (one('--cache-to', flags.cacheTo) ?? repo);
  return { from, to };
}
