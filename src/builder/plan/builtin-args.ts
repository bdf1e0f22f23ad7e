import { formatPlatform } from '../../oci/platform.js';
import type { Platform as PlatformSpec } from '../../oci/types.js';

/**
 * Build args Docker accepts without an ARG line. They reach RUN's environment
 * but are left out of expansion and of the image history.
 */
export const PROXY_ARGS: ReadonlySet<string> = new Set(
  ['HTTP_PROXY', 'HTTPS_PROXY', 'FTP_PROXY', 'NO_PROXY', 'ALL_PROXY'].flatMap((n) => [n, n.toLowerCase()]),
);

/** ARGs BuildKit reads itself; declared or not, they never reach the environment. */
export const NON_ENV_ARGS: ReadonlySet<string> = new Set(['SOURCE_DATE_EPOCH', 'BUILDKIT_SBOM_SCAN_CONTEXT', 'BUILDKIT_SBOM_SCAN_STAGE']);

/** Build args the builder consumes itself, so never "unused". */
export function isBuilderArg(name: string): boolean {
  return PROXY_ARGS.has(name) || NON_ENV_ARGS.has(name) || name.startsWith('BUILDKIT_');
}

/**
 * BuildKit's automatic ARGs, visible in FROM lines and to any stage that
 * redeclares them. A build arg of the same name overrides each.
 */
export function automaticArgs(build: PlatformSpec, target: PlatformSpec, targetStage: string): Map<string, string> {
  return new Map([
    ['BUILDPLATFORM', formatPlatform(build)],
    ['BUILDOS', build.os],
    ['BUILDOSVERSION', ''],
    ['BUILDARCH', build.architecture],
    ['BUILDVARIANT', build.variant ?? ''],
    ['TARGETPLATFORM', formatPlatform(target)],
    ['TARGETOS', target.os],
    ['TARGETOSVERSION', ''],
    ['TARGETARCH', target.architecture],
    ['TARGETVARIANT', target.variant ?? ''],
    ['TARGETSTAGE', targetStage],
  ]);
}
