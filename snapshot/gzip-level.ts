/**
 * The gzip levels layers are written at, apart from the layer writer so
 * that option checks (the CLI, build()) need not load it.
 *
 * The default, 4, is the lowest of zlib's levels whose layers are the size
 * of buildah's and podman's. Those compress with klauspost's pgzip at its
 * default, a level "5" of its own greedy encoder that lands between zlib's
 * 3 and 4: on a Debian 12 minbase rootfs buildah wrote 51.1 MB, zlib (at
 * hoist's memLevel 9, parallel-gzip.ts) 52.2 at 3, 51.0 at 4, 50.2 at 5;
 * on 150 MB of /usr/lib 50.27 MB against 51.5, 50.30 and 49.1. Level 4
 * took 20-25% less deflate CPU than 5 there (256 KiB blocks). Docker and
 * BuildKit use Go's level 6, Kaniko level 1.
 */

export const DEFAULT_GZIP_LEVEL = 4;

/** What to give instead of a level that is not one. */
export const GZIP_LEVEL_HINT = `give a whole number from 0 (no compression) to 9 (smallest layers); the default, ${DEFAULT_GZIP_LEVEL}, makes layers about the size of buildah's and podman's`;

/** 0 (stored) to 9. */
export function isGzipLevel(level: number): boolean {
  return Number.isInteger(level) && level >= 0 && level <= 9;
}
