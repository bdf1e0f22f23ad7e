import { homedir } from 'node:os';
import type { Command } from 'commander';
import { cacheItems, pruneCache, usageOf, type PartUsage } from '../src/builder/cache/disk-usage.js';
import { UsageError } from '../src/errors.js';
import { resolveStoreRoot } from '../src/oci/index.js';
import { parseDurationFlag } from './common-options.js';
import type { CliIo } from './io.js';

const UNITS: Readonly<Record<string, number>> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4, tib: 1024 ** 4 };

/** A size as buildx's --keep-storage reads it: a number and a binary unit (10GB = 10 GiB). */
export function parseByteSize(flag: string, value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
  const unit = m === null ? undefined : UNITS[(m[2] as string).toLowerCase()];
  if (m === null || unit === undefined) {
    throw new UsageError(`${flag} ${JSON.stringify(value)} is not a size`, { hint: 'write a size such as 512MB, 10GB or 1.5GiB (units of 1024)' });
  }
  return Math.floor(Number(m[1]) * unit);
}

/** `until=DURATION`, docker builder prune's one filter hoist supports. */
function parseFilter(values: readonly string[]): number | undefined {
  let until: number | undefined;
  for (const v of values) {
    const m = /^until=(.+)$/.exec(v);
    if (m === null) throw new UsageError(`unknown --filter ${JSON.stringify(v)}`, { hint: 'hoist cache prune supports --filter until=DURATION, e.g. until=168h' });
    until = parseDurationFlag('--filter until=', m[1]);
  }
  return until;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

function cacheRoot(io: CliIo, cacheDir: string | undefined): string {
  return resolveStoreRoot({ cacheDir, env: io.env, homedir: homedir() });
}

const row = (name: string, u: PartUsage): string => `${name.padEnd(8)} ${String(u.items).padStart(8)} ${formatBytes(u.bytes).padStart(11)}`;

export function registerCache(program: Command, io: CliIo): void {
  program
    .command('cache')
    .description("show or shrink hoist's cache directory (base images, built layers, step records)")
    .argument('<du|prune>', 'du shows the space taken; prune removes items, least recently used first (everything when no limit is given)')
    .option('--keep-storage <size>', 'prune: keep at most this much, e.g. 10GB')
    .option('--filter <filter>', 'prune: until=DURATION removes what was not used for that long', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--cache-dir <dir>', 'cache directory (default: $HOIST_CACHE_DIR or ~/.cache/hoist)')
    .action(async (action: string, flags: { keepStorage?: string; filter: string[]; cacheDir?: string }) => {
      const root = cacheRoot(io, flags.cacheDir);
      if (action === 'du') {
        if (flags.keepStorage !== undefined || flags.filter.length > 0) throw new UsageError('--keep-storage and --filter are options of hoist cache prune');
        const usage = usageOf(await cacheItems(root));
        io.stdout(`cache directory ${root}`);
        io.stdout(`${'part'.padEnd(8)} ${'items'.padStart(8)} ${'size'.padStart(11)}`);
        for (const part of ['blobs', 'steps', 'mounts', 'other', 'total'] as const) io.stdout(row(part, usage[part]));
        return;
      }
      if (action !== 'prune') throw new UsageError(`unknown cache action ${JSON.stringify(action)}`, { hint: 'use hoist cache du or hoist cache prune' });
      const olderThanMs = parseFilter(flags.filter);
      const keepBytes = flags.keepStorage === undefined ? undefined : parseByteSize('--keep-storage', flags.keepStorage);
      const result = await pruneCache(root, { ...(olderThanMs !== undefined ? { olderThanMs } : {}), ...(keepBytes !== undefined ? { keepBytes } : {}) });
      io.stdout(`removed ${result.removed.items} items, ${formatBytes(result.removed.bytes)}; ${formatBytes(result.kept.bytes)} left in ${root}`);
    });
}
