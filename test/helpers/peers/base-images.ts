/**
 * The registry base images of the peer corpora, mapped to images the test
 * setup makes and pushes to the loopback test registry, so that cases whose
 * FROM names busybox, Debian, Ubuntu or Alpine are built by both builders
 * from the very same Dockerfile and the very same base:
 *
 * - busybox, in every spelling (`busybox`, `docker.io/busybox`,
 *   `docker.io/library/busybox`, `index.docker.io/...`, `mirror.gcr.io/busybox`,
 *   podman's copy `quay.io/libpod/busybox`), any tag, any digest
 *   -> `REGISTRY/peer-base/busybox:latest`: the suite's busybox rootfs
 *   (test/helpers/busybox-rootfs.ts: Debian's busybox-static, one symlink per
 *   applet, /etc/passwd and /etc/group, /tmp 1777) with busybox's config
 *   (PATH, Cmd ["sh"]).
 * - debian and ubuntu, in every spelling, tag and digest
 *   -> `REGISTRY/peer-base/debian:SUITE`: the debootstrap minbase of the
 *   host's suite (test/helpers/debian-image.ts).
 * - alpine, in every spelling, tag and digest -> the busybox image. Alpine's
 *   userland is busybox (its /bin/sh and coreutils are busybox applets), so a
 *   case that copies files onto alpine or runs shell commands in it asks of
 *   the builders what it asks on busybox. What busybox lacks is apk, musl's
 *   files and /etc/alpine-release: a case that runs `apk` fails in both
 *   builders at that step and is listed (peer-divergence is not claimed:
 *   category needs-network, reason "needs apk"), never compared as if it
 *   had built. This is a differential test: what matters is that hoist and
 *   buildah start from one base, not which base it is.
 *
 * Everything else (centos, fedora, quay.io/libpod/testimage, a name built
 * from an ARG the case does not set ...) is left as is, and the case stays
 * needs-network. The rewrite is textual and line-based, applied to the
 * Dockerfile copy both builders get: FROM lines, `COPY|ADD --from=IMAGE`,
 * `RUN --mount=...,from=IMAGE`, and the default of an ARG (or a build arg)
 * that such a reference names as `$NAME` / `${NAME}`.
 */

export type BaseKind = 'busybox' | 'debian';

/** Registries whose library images are Docker Hub's (mirror.gcr.io mirrors Docker Hub). */
const HUB_PREFIXES = ['docker.io/library/', 'docker.io/', 'index.docker.io/library/', 'index.docker.io/', 'registry-1.docker.io/library/', 'mirror.gcr.io/library/', 'mirror.gcr.io/', 'library/'];
/** podman's test copies of the library images. */
const COPIES = ['quay.io/libpod/'];

const KINDS: Record<string, BaseKind> = { busybox: 'busybox', alpine: 'busybox', debian: 'debian', ubuntu: 'debian' };

/** The test base an image reference stands for, or undefined when it is not one of the mapped images. */
export function baseKindOf(ref: string): BaseKind | undefined {
  let name = ref.trim().toLowerCase();
  if (name === '' || name.includes('$')) return undefined;
  const at = name.indexOf('@');
  if (at >= 0) {
    if (!/^sha256:[0-9a-f]{64}$/.test(name.slice(at + 1))) return undefined;
    name = name.slice(0, at);
  }
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) {
    if (!/^[\w][\w.-]{0,127}$/.test(name.slice(colon + 1))) return undefined;
    name = name.slice(0, colon);
  }
  for (const p of [...HUB_PREFIXES, ...COPIES]) {
    if (name.startsWith(p)) {
      name = name.slice(p.length);
      break;
    }
  }
  return KINDS[name];
}

export interface TestBases {
  busybox: string;
  debian: string;
}

export interface Rewritten {
  text: string;
  buildArgs: Record<string, string>;
  /** What was mapped, e.g. `alpine -> busybox`. */
  mapped: string[];
  /** Image references left as they were (not a stage, not scratch, not mapped). */
  unmapped: string[];
}

/** Logical lines (continuations joined) with the physical lines they came from. */
function logicalLines(text: string): Array<{ start: number; end: number; text: string }> {
  const lines = text.split('\n');
  const out: Array<{ start: number; end: number; text: string }> = [];
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let joined = lines[i] as string;
    while (/\\\s*$/.test(joined) && i + 1 < lines.length) {
      i++;
      joined = joined.replace(/\\\s*$/, ' ') + (lines[i] as string);
    }
    out.push({ start, end: i, text: joined });
  }
  return out;
}

const ARG_REF = /^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$/;

/**
 * Point every mapped base reference of a Dockerfile at the test bases.
 * Stage names are kept: a FROM or --from naming an earlier stage is not an image.
 */
export function rewriteBases(text: string, buildArgs: Record<string, string>, bases: TestBases): Rewritten {
  const physical = text.split('\n');
  const mapped: string[] = [];
  const unmapped: string[] = [];
  // Every stage name, so that a --from naming a later stage (a deliberately bad case) is not taken for an image.
  const stages = new Set<string>();
  for (const l of logicalLines(text)) {
    const as = /^\s*FROM\s+.*\s+AS\s+(\S+)\s*$/i.exec(l.text);
    if (as) stages.add((as[1] as string).toLowerCase());
  }
  const argsUsed = new Set<string>();
  const target = (ref: string): string | undefined => {
    const kind = baseKindOf(ref);
    if (kind === undefined) return undefined;
    mapped.push(`${ref} -> ${kind}`);
    return bases[kind];
  };
  const imageRef = (ref: string): string => {
    const lower = ref.toLowerCase();
    if (lower === 'scratch' || stages.has(lower) || /^\d+$/.test(ref)) return ref;
    const arg = ARG_REF.exec(ref);
    if (arg) {
      argsUsed.add(arg[1] as string);
      return ref;
    }
    const to = target(ref);
    if (to === undefined) unmapped.push(ref);
    return to ?? ref;
  };
  for (const l of logicalLines(text)) {
    if (l.start !== l.end) {
      // Instructions split over lines: only --from in them is rewritten, in place on its physical line.
      for (let i = l.start; i <= l.end; i++) physical[i] = rewriteFromFlags(physical[i] as string, imageRef);
      continue;
    }
    const from = /^(\s*FROM\s+(?:--platform=\S+\s+)?)(\S+)(.*)$/i.exec(l.text);
    if (from) {
      const [, head, ref, rest] = from as unknown as [string, string, string, string];
      const replaced = imageRef(ref);
      physical[l.start] = `${head}${replaced}${rest}`;
      continue;
    }
    physical[l.start] = rewriteFromFlags(l.text, imageRef);
  }
  // ARG defaults and build args that name a mapped image and are used as an image reference.
  const args = { ...buildArgs };
  const local = (v: string): boolean => v.toLowerCase() === 'scratch' || stages.has(v.toLowerCase());
  for (const name of argsUsed) {
    const decl = new RegExp(`^(\\s*ARG\\s+${name}=)(["']?)([^\\s"']+)\\2\\s*$`, 'i');
    let resolved = false;
    if (name in args) {
      const value = args[name] as string;
      const to = target(value);
      if (to !== undefined) args[name] = to;
      resolved = to !== undefined || local(value);
    }
    for (let i = 0; i < physical.length; i++) {
      const m = decl.exec(physical[i] as string);
      if (!m) continue;
      const value = m[3] as string;
      const to = target(value);
      if (to !== undefined) physical[i] = `${m[1]}${to}`;
      resolved ||= to !== undefined || local(value);
    }
    if (!resolved) unmapped.push(`$${name}`);
  }
  return { text: physical.join('\n'), buildArgs: args, mapped, unmapped };
}

function rewriteFromFlags(line: string, imageRef: (ref: string) => string): string {
  if (!/^\s*(COPY|ADD|RUN)\b/i.test(line)) return line;
  return line
    .replace(/(--from=)(["']?)([^\s"',]+)\2/gi, (_all, flag: string, q: string, ref: string) => `${flag}${q}${imageRef(ref)}${q}`)
    .replace(/(--mount=\S*?\bfrom=)([^\s,]+)/gi, (_all, flag: string, ref: string) => `${flag}${imageRef(ref)}`);
}

/** An ADD or COPY of a URL or git repository, or an ARG holding one: the network, whatever the base. */
const FETCHES = /^\s*(ADD|COPY|ARG)\b[^\n]*(https?:\/\/|git@)/im;

const PLACEHOLDER: TestBases = { busybox: 'test-registry/busybox:latest', debian: 'test-registry/debian:suite' };

/**
 * Whether the test bases make a case buildable here: it names at least one
 * mapped image, every image it names is mapped, and it fetches nothing else.
 */
export function buildableOnTestBases(text: string, buildArgs: Record<string, string>): boolean {
  const r = rewriteBases(text, buildArgs, PLACEHOLDER);
  return r.mapped.length > 0 && r.unmapped.length === 0 && !FETCHES.test(text);
}

/** Which test bases a Dockerfile is built on. */
export function testBaseKinds(text: string, buildArgs: Record<string, string>): Set<BaseKind> {
  const r = rewriteBases(text, buildArgs, PLACEHOLDER);
  return new Set(r.mapped.map((m) => m.slice(m.lastIndexOf(' -> ') + 4) as BaseKind));
}
