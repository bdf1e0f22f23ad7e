/**
 * Platforms: `os/arch[/variant]` strings, matching, and picking a manifest
 * from an index.
 */
import { HoistError } from '../errors.js';
import type { Descriptor, Platform } from './types.js';

/** Parse `linux/amd64`, `linux/arm64/v8`, `linux/arm/v7`. */
export function parsePlatform(text: string): Platform {
  const parts = text.split('/');
  const [os, architecture, variant] = parts;
  if (parts.length < 2 || parts.length > 3 || !os || !architecture || (parts.length === 3 && !variant)) {
    throw new HoistError('BAD_PLATFORM', `invalid platform ${JSON.stringify(text)}`, {
      hint: 'write a platform as os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8',
    });
  }
  const p: Platform = { os: os.toLowerCase(), architecture: normalizeArch(architecture.toLowerCase()) };
  if (variant !== undefined) p.variant = variant.toLowerCase();
  return p;
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter((s) => s !== undefined && s !== '').join('/');
}

function normalizeArch(arch: string): string {
  if (arch === 'x86_64' || arch === 'x86-64') return 'amd64';
  if (arch === 'aarch64') return 'arm64';
  return arch;
}

/** The variant an architecture implies when none is written (as containerd normalises). */
function effectiveVariant(p: Platform): string | undefined {
  if (p.variant !== undefined && p.variant !== '') return p.variant;
  if (p.architecture === 'arm64') return 'v8';
  if (p.architecture === 'arm') return 'v7';
  return undefined;
}

/** Does `have` satisfy `want`? OS and architecture must match; a wanted variant must match. */
export function platformMatches(want: Platform, have: Platform): boolean {
  if (want.os !== have.os || normalizeArch(want.architecture) !== normalizeArch(have.architecture)) return false;
  if (want.variant === undefined || want.variant === '') return true;
  return effectiveVariant(want) === effectiveVariant(have);
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
