/**
 * Image references, parsed and normalised the way Docker does it
 * (distribution/reference's ParseNormalizedNamed):
 *
 *   busybox                 -> docker.io/library/busybox:latest
 *   index.docker.io/foo/bar -> docker.io/foo/bar:latest
 *   localhost/foo           -> localhost/foo:latest
 *   host:5000/foo:1@sha256:… keeps both tag and digest
 *
 * Grammar (from distribution/reference):
 *   reference := name [ ":" tag ] [ "@" digest ]
 *   name      := [domain "/"] path-component ["/" path-component]*
 *   domain    := host [":" port]   (DNS-ish name, IPv4, or [IPv6])
 * A first component is a domain only if it is `localhost`, contains "." or
 * ":", or has an uppercase letter; otherwise the name is on Docker Hub.
 */
import { HoistError } from '../errors.js';
import { hasUserinfo, maskReferenceUserinfo } from '../redact.js';
import type { Digest } from './digest.js';

export const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
export const DEFAULT_TAG = 'latest';
/** Longest repository path (without domain) distribution accepts. */
export const MAX_PATH_LENGTH = 255;
/** Guard against pathological input before running the regular expressions. */
const MAX_INPUT_LENGTH = 2048;

const alphanumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const domainNameComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const domainName = `${domainNameComponent}(?:\\.${domainNameComponent})*`;
const ipv6Address = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainAndPort = `(?:${domainName}|${ipv6Address})(?::[0-9]+)?`;
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const remoteName = `${pathComponent}(?:/${pathComponent})*`;
const namePat = `(?:${domainAndPort}/)?${remoteName}`;
const tagPat = '[\\w][\\w.-]{0,127}';
const digestPat = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';

const REFERENCE_RE = new RegExp(`^(${namePat})(?::(${tagPat}))?(?:@(${digestPat}))?$`);
const ANCHORED_NAME_RE = new RegExp(`^(?:(${domainAndPort})/)?(${remoteName})$`);
const TAG_RE = new RegExp(`^${tagPat}$`);
const IDENTIFIER_RE = /^[a-f0-9]{64}$/;
/** Algorithms go-digest knows, with their hex lengths. hoist's Digest type covers sha256 and sha512. */
const DIGEST_HEX_LENGTH: Readonly<Record<string, number>> = { sha256: 64, sha384: 96, sha512: 128 };

function invalid(input: string, problem: string): HoistError {
  return new HoistError('BAD_REFERENCE', `invalid reference ${JSON.stringify(input)}: ${problem}`, {
    hint: 'an image reference looks like [registry[:port]/]name[:tag][@sha256:digest], lowercase name, e.g. docker.io/library/busybox:latest',
  });
}

export function isValidTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

function checkDigest(input: string, value: string): Digest {
  const colon = value.indexOf(':');
  const algorithm = value.slice(0, colon);
  const hex = value.slice(colon + 1);
  const want = DIGEST_HEX_LENGTH[algorithm];
  if (want === undefined) throw invalid(input, `unsupported digest algorithm ${JSON.stringify(algorithm)}`);
  if (hex.length !== want) throw invalid(input, `${algorithm} digest must have ${want} hex characters, got ${hex.length}`);
  if (!/^[a-f0-9]+$/.test(hex)) throw invalid(input, 'digest must be lowercase hexadecimal');
  if (algorithm === 'sha384') throw invalid(input, 'sha384 digests are not supported (use sha256 or sha512)');
  return value as Digest;
}

/** distribution's splitDockerDomain: decide whether the first component is a registry. */
function splitDockerDomain(name: string): { domain: string; remainder: string } {
  const slash = name.indexOf('/');
  if (slash === -1) return { domain: DEFAULT_DOMAIN, remainder: OFFICIAL_REPO_PREFIX + name };
  const first = name.slice(0, slash);
  const rest = name.slice(slash + 1);
  let domain: string;
  let remainder: string;
  if (first === 'localhost') {
    [domain, remainder] = [first, rest];
  } else if (first === LEGACY_DEFAULT_DOMAIN) {
    [domain, remainder] = [DEFAULT_DOMAIN, rest];
  } else if (first.includes('.') || first.includes(':') || first.toLowerCase() !== first) {
    [domain, remainder] = [first, rest];
  } else {
    [domain, remainder] = [DEFAULT_DOMAIN, name];
  }
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_REPO_PREFIX + remainder;
  return { domain, remainder };
}

/** An immutable, normalised image reference. Build one with {@link parseReference}. */
export class Reference {
  private constructor(
    /** Registry host[:port], e.g. `docker.io`, `localhost:5000` ('' only for odd names like `foo_bar.com/x`). */
    readonly domain: string,
    /** Repository path inside the registry, e.g. `library/busybox`. */
    readonly path: string,
    readonly tag: string | undefined,
    readonly digest: Digest | undefined,
  ) {}

  /** Parse and normalise; throws HoistError BAD_REFERENCE. Does not add a default tag. */
  static parseNormalized(input: string): Reference {
    if (input === '') throw invalid(input, 'repository name must have at least one component');
    if (hasUserinfo(input)) {
      // Never echo the secret part: the message shows the reference with it masked.
      throw new HoistError('BAD_REFERENCE', `invalid reference ${JSON.stringify(maskReferenceUserinfo(input))}: a reference cannot hold credentials (user:password@)`, {
        hint: 'remove the user:password@ part and log in instead: hoist login REGISTRY (or set REGISTRY_AUTH_FILE)',
      });
    }
    if (input.length > MAX_INPUT_LENGTH) throw invalid(`${input.slice(0, 40)}...`, 'reference is too long');
    if (IDENTIFIER_RE.test(input)) {
      throw invalid(input, 'cannot specify 64-byte hexadecimal strings as a repository name');
    }
    const { domain, remainder } = splitDockerDomain(input);
    const colon = remainder.indexOf(':');
    const remote = colon === -1 ? remainder : remainder.slice(0, colon);
    if (remote.toLowerCase() !== remote) throw invalid(input, `repository name (${remote}) must be lowercase`);

    const full = `${domain}/${remainder}`;
    const m = REFERENCE_RE.exec(full);
    if (m === null) {
      const lower = full.toLowerCase();
      if (lower !== full && REFERENCE_RE.test(lower)) throw invalid(input, 'repository name must be lowercase');
      throw invalid(input, 'invalid reference format');
    }
    const [, name = '', tag, digest] = m;
    const nm = ANCHORED_NAME_RE.exec(name);
    const path = nm?.[2] ?? name;
    if (path.length > MAX_PATH_LENGTH) {
      throw invalid(input, `repository name must not be more than ${MAX_PATH_LENGTH} characters`);
    }
    // Like distribution, the domain is what the name grammar captures; a
    // first component that split as a domain but is not a valid host (e.g.
    // `foo_bar.com/x`) ends up as part of the path with no domain.
    const host = nm === null ? '' : (nm[1] ?? '');
    return new Reference(host, path, tag, digest === undefined ? undefined : checkDigest(input, digest));
  }

  /** The full repository name: `docker.io/library/busybox`. */
  get name(): string {
    return this.domain === '' ? this.path : `${this.domain}/${this.path}`;
  }

  /** The full reference: `docker.io/library/busybox:latest`, `name@sha256:…`, `name:tag@sha256:…`. */
  string(): string {
    return this.name + (this.tag === undefined ? '' : `:${this.tag}`) + (this.digest === undefined ? '' : `@${this.digest}`);
  }

  toString(): string {
    return this.string();
  }

  /** The name as Docker shows it: `busybox`, `foo/bar`, `localhost:5000/foo`. */
  familiarName(): string {
    if (this.domain !== DEFAULT_DOMAIN) return this.name;
    if (this.path.startsWith(OFFICIAL_REPO_PREFIX)) {
      const rest = this.path.slice(OFFICIAL_REPO_PREFIX.length);
      if (!rest.includes('/')) return rest;
    }
    return this.path;
  }

  /** The reference as Docker shows it: `busybox:latest`, `127.0.0.1:5000/foo:tag`. */
  familiarString(): string {
    return (
      this.familiarName() + (this.tag === undefined ? '' : `:${this.tag}`) + (this.digest === undefined ? '' : `@${this.digest}`)
    );
  }

  withTag(tag: string): Reference {
    if (!isValidTag(tag)) throw invalid(`${this.name}:${tag}`, `invalid tag ${JSON.stringify(tag)}`);
    return new Reference(this.domain, this.path, tag, this.digest);
  }

  withDigest(digest: Digest): Reference {
    return new Reference(this.domain, this.path, this.tag, checkDigest(`${this.name}@${digest}`, digest));
  }

  /** Only the repository: no tag, no digest. */
  repository(): Reference {
    return new Reference(this.domain, this.path, undefined, undefined);
  }

  /** Docker's TagNameOnly: add `latest` when there is neither tag nor digest. */
  withDefaultTag(): Reference {
    return this.tag === undefined && this.digest === undefined ? this.withTag(DEFAULT_TAG) : this;
  }

  /** What to ask a registry for: the digest if pinned, else the tag, else `latest`. */
  identifier(): string {
    return this.digest ?? this.tag ?? DEFAULT_TAG;
  }

  equals(other: Reference): boolean {
    return this.string() === other.string();
  }
}

/**
 * Parse a user-supplied image reference, normalised and (unless
 * `defaultTag: false`) with tag `latest` added when it has neither tag nor
 * digest. Throws HoistError BAD_REFERENCE.
 */
export function parseReference(input: string, options: { defaultTag?: boolean } = {}): Reference {
  const ref = Reference.parseNormalized(input);
  return options.defaultTag === false ? ref : ref.withDefaultTag();
}

/** `text` as a reference, or undefined when it is not one (for lookups that try several readings). */
export function tryParseReference(text: string): Reference | undefined {
  try {
    return parseReference(text);
  } catch {
    return undefined;
  }
}
