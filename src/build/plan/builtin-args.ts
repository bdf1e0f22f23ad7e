import { formatPlatform, type PlatformSpec } from './platform.js';

/**
 * Build args Docker accepts without an ARG line. They reach RUN's environment
 * but are left out of expansion and of the image history.
 */
export const PROXY_ARGS: ReadonlySet<string> = new Set(
  ['HTTP_PROXY', 'HTTPS_PROXY', 'FTP_PROXY', 'NO_PROXY', 'ALL_PROXY'].flatMap((n) => [n, n.toLowerCase()]),
);

/** BuildKit's automatic platform ARGs, visible in FROM lines and to any stage that redeclares them. */
export function platformArgs(build: PlatformSpec, target: PlatformSpec): Map<string, string> {
  return new Map([
    ['BUILDPLATFORM', formatPlatform(build)],
    ['BUILDOS', build.os],
    ['BUILDARCH', build.architecture],
    ['BUILDVARIANT', build.variant ?? ''],
    ['TARGETPLATFORM', formatPlatform(target)],
    ['TARGETOS', target.os],
    ['TARGETARCH', target.architecture],
    ['TARGETVARIANT', target.variant ?? ''],
  ]);
}
