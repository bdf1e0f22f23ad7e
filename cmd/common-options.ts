import { UsageError, formatLocation, type Warning } from '../src/errors.js';
import type { CliIo } from './io.js';
import { parsePlatform, platformFromNode, type PlatformSpec } from '../src/builder/plan/platform.js';
import { parseGoDuration } from '../src/dockerfile/instructions/duration.js';

/** commander accumulator for repeatable options. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * `--build-arg K=V` sets K; `--build-arg K` takes K from the environment and is
 * ignored when the environment has no K, as docker build does.
 */
export function parseBuildArgs(values: readonly string[], env: NodeJS.ProcessEnv): Map<string, string> {
  const args = new Map<string, string>();
  for (const value of values) {
    const eq = value.indexOf('=');
    const key = eq < 0 ? value : value.slice(0, eq);
    if (key === '') throw new UsageError(`--build-arg ${JSON.stringify(value)}: the name is empty`, { hint: 'write --build-arg NAME=VALUE' });
    if (eq >= 0) {
      args.set(key, value.slice(eq + 1));
    } else {
      const fromEnv = env[key];
      if (fromEnv !== undefined) args.set(key, fromEnv);
    }
  }
  return args;
}

export function hostPlatform(): PlatformSpec {
  return platformFromNode(process.platform, process.arch);
}

export function targetPlatform(flag: string | undefined): PlatformSpec {
  if (flag === undefined) return hostPlatform();
  try {
    return parsePlatform(flag);
  } catch (err) {
    throw new UsageError(`--platform ${JSON.stringify(flag)}: ${(err as Error).message}`, { hint: 'write os/arch[/variant], e.g. linux/arm64' });
  }
}

/** Warnings go to stderr as `warning: PATH:LINE: message`. */
export function printWarnings(io: CliIo, warnings: readonly Warning[]): void {
  for (const w of warnings) io.stderr(`warning: ${w.location ? `${formatLocation(w.location)}: ` : ''}${w.message}`);
}

/**
 * A duration flag in Go's syntax (`30s`, `1m30s`, `500ms`), or a bare number
 * of seconds, as milliseconds; undefined when the flag was not given.
 */
export function parseDurationFlag(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  let ms: number;
  try {
    ms = /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value.trim()) * 1000 : parseGoDuration(value.trim()) / 1e6;
  } catch (err) {
    throw new UsageError(`${flag} ${JSON.stringify(value)}: ${(err as Error).message}`, { hint: `write a duration such as 30s, 2m or 1m30s` });
  }
  if (!(ms >= 1)) throw new UsageError(`${flag} ${JSON.stringify(value)}: the duration must be at least 1ms`, { hint: 'write a duration such as 30s, 2m or 1m30s' });
  return Math.round(ms);
}
