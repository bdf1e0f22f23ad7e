/**
 * Platforms: parsing what users type (`linux/amd64`, `arm64`, `armhf`) the
 * way containerd's platforms.Parse + Normalize do, formatting, matching, and
 * picking a manifest from an index. The one platform parser of the project.
 */
import { HoistError } from '../errors.js';
import type { Descriptor, Platform } from './types.js';

/** Go's known GOOS values (containerd's isKnownOS); only a bare single word is checked against them. */
const KNOWN_OS: ReadonlySet<string> = new Set([
  'aix', 'android', 'darwin', 'dragonfly', 'freebsd', 'hurd', 'illumos', 'ios', 'js', 'linux', 'nacl', 'netbsd',
  'openbsd', 'plan9', 'solaris', 'wasip1', 'windows', 'zos',
]);

/** Go's known GOARCH values (containerd's isKnownArch). */
const KNOWN_ARCH: ReadonlySet<string> = new Set([
  '386', 'amd64', 'amd64p32', 'arm', 'armbe', 'arm64', 'arm64be', 'ppc64', 'ppc64le', 'loong64', 'mips', 'mipsle',
  'mips64', 'mips64le', 'mips64p32', 'mips64p32le', 'ppc', 'riscv', 'riscv64', 's390', 's390x', 'sparc', 'sparc64', 'wasm',
]);

const OS_AND_VERSION = /^([A-Za-z0-9_-]+)(?:\(([A-Za-z0-9_.-]*)\))?$/;
const COMPONENT = /^[A-Za-z0-9_.-]+$/;

const HINT = 'write a platform as os/arch[/variant], e.g. linux/amd64, linux/arm64 or linux/arm/v7';

function badPlatform(text: string, why: string): HoistError {
  return new HoistError('BAD_PLATFORM', `invalid platform ${JSON.stringify(text)}: ${why}`, { hint: HINT });
}

function normalizeOs(os: string): string {
  const lower = os.toLowerCase();
  return lower === 'macos' ? 'darwin' : lower;
}

/**
 * containerd's spellings: x86_64 -> amd64, aarch64 -> arm64, armhf -> arm/v7,
 * armel -> arm/v6, i386 -> 386; the default variants (amd64 v1, arm64 v8)
 * are left out, arm always gets one (v7 unless written).
 */
function normalizeArch(arch: string, variant: string): { architecture: string; variant: string } {
  const a = arch.toLowerCase();
  let v = variant.toLowerCase();
  switch (a) {
    case 'i386':
      return { architecture: '386', variant: '' };
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      return { architecture: 'amd64', variant: v === 'v1' ? '' : v };
    case 'aarch64':
    case 'arm64':
      if (v === '8' || v === 'v8' || v === 'v8.0') v = '';
      else if (v === '9' || v === '9.0' || v === 'v9.0') v = 'v9';
      return { architecture: 'arm64', variant: v };
    case 'armhf':
      return { architecture: 'arm', variant: 'v7' };
    case 'armel':
      return { architecture: 'arm', variant: 'v6' };
    case 'arm':
      if (v === '' || v === '7') v = 'v7';
      else if (v === '5' || v === '6' || v === '8') v = `v${v}`;
      return { architecture: 'arm', variant: v };
    default:
      return { architecture: a, variant: v };
  }
}

function platformOf(os: string, arch: { architecture: string; variant: string }, osVersion?: string): Platform {
  const p: Platform = { os, architecture: arch.architecture };
  if (arch.variant !== '') p.variant = arch.variant;
  if (osVersion !== undefined && osVersion !== '') p['os.version'] = osVersion;
  return p;
}

/** A platform in canonical form (containerd's Normalize), e.g. for comparing. */
export function normalizePlatform(p: Platform): Platform {
  const { variant, ...rest } = p;
  const arch = normalizeArch(p.architecture, variant ?? '');
  const out: Platform = { ...rest, os: normalizeOs(p.os), architecture: arch.architecture };
  if (arch.variant !== '') out.variant = arch.variant;
  return out;
}

/**
 * Parse `os[(version)]/arch[/variant]`, a bare OS, or a bare architecture,
 * as containerd's platforms.Parse followed by Normalize. A bare OS takes the
 * architecture of `host`, a bare architecture its OS (Linux without one).
 * A list (`linux/amd64,linux/arm64`) is not a platform: callers that accept
 * lists split them first.
 */
export function parsePlatform(text: string, host?: Platform): Platform {
  if (text.includes('*')) throw badPlatform(text, 'wildcards are not supported');
  if (text.includes(',')) throw badPlatform(text, 'a list of platforms is not a platform');
  const parts = text.split('/');
  if (parts.length > 3) throw badPlatform(text, 'more than os/arch/variant');
  const [first = '', arch, variant] = parts;
  const osAndVersion = OS_AND_VERSION.exec(first);
  if (osAndVersion === null) throw badPlatform(text, `${JSON.stringify(first)} is not an operating system name`);
  for (const part of parts.slice(1)) {
    if (!COMPONENT.test(part)) throw badPlatform(text, `${JSON.stringify(part)} is not an architecture or variant`);
  }
  const os = normalizeOs(osAndVersion[1] as string);
  const osVersion = osAndVersion[2];
  if (arch === undefined) {
    if (KNOWN_OS.has(os)) {
      if (host === undefined) throw badPlatform(text, 'name the architecture too');
      return normalizePlatform({ ...host, os, ...(osVersion ? { 'os.version': osVersion } : {}) });
    }
    const bare = normalizeArch(first, '');
    if (!KNOWN_ARCH.has(bare.architecture)) throw badPlatform(text, 'unknown operating system or architecture');
    return platformOf(host?.os ?? 'linux', bare);
  }
  return platformOf(os, normalizeArch(arch, variant ?? ''), osVersion);
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter((s) => s !== undefined && s !== '').join('/');
}

/** The OCI platform of a Node.js `process.platform`/`process.arch` pair. */
export function platformFromNode(nodePlatform: string, nodeArch: string): Platform {
  const NODE_ARCH: Readonly<Record<string, string>> = { x64: 'amd64', ia32: '386', ppc64: 'ppc64le', mipsel: 'mipsle' };
  const os = nodePlatform === 'win32' ? 'windows' : nodePlatform;
  return normalizePlatform({ os, architecture: NODE_ARCH[nodeArch] ?? nodeArch });
}

/**
 * Does `have` satisfy `want`? Both are normalized; OS and architecture must
 * match, and a variant if `want` has one (arm is always v-something, so
 * `linux/arm` wants v7; `linux/arm64` and `linux/arm64/v8` are the same).
 */
export function platformMatches(want: Platform, have: Platform): boolean {
  const w = normalizePlatform(want);
  const h = normalizePlatform(have);
  if (w.os !== h.os || w.architecture !== h.architecture) return false;
  return w.variant === undefined || w.variant === h.variant;
}

/** Attestation and other non-runnable entries in an index (BuildKit writes these). */
function isRunnable(d: Descriptor): boolean {
  if (d.annotations?.['vnd.docker.reference.type'] !== undefined) return false;
  return !(d.platform?.os === 'unknown' && d.platform.architecture === 'unknown');
}

/**
 * Pick the manifest for `want` from an index's entries. Without `want`, an
 * index with a single runnable entry yields it. Throws PLATFORM_NOT_FOUND or
 * PLATFORM_REQUIRED naming what is there.
 */
export function selectPlatformManifest(manifests: readonly Descriptor[], want: Platform | undefined, where: string): Descriptor {
  const runnable = manifests.filter(isRunnable);
  const available = runnable.map((d) => (d.platform === undefined ? '(no platform)' : formatPlatform(d.platform))).join(', ');
  if (want === undefined) {
    const [only] = runnable;
    if (only !== undefined && runnable.length === 1) return only;
    throw new HoistError('PLATFORM_REQUIRED', `${where} holds images for several platforms: ${available || 'none'}`, {
      hint: 'choose one with --platform',
    });
  }
  const exact = runnable.find((d) => d.platform !== undefined && platformMatches(want, d.platform));
  if (exact !== undefined) return exact;
  throw new HoistError('PLATFORM_NOT_FOUND', `${where} has no image for ${formatPlatform(want)} (it has: ${available || 'none'})`, {
    hint: 'choose an available platform with --platform',
  });
}
