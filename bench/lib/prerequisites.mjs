// What a bench needs before it runs: hoist's CLI as users run it, and host tools.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The bundle `npm run build` makes (package.json's bin); HOIST_BENCH_CLI points a bench at another build, to compare two commits. */
export const HOIST = process.env.HOIST_BENCH_CLI || fileURLToPath(new URL('../../dist/bin/hoist.cjs', import.meta.url));

/** Throws `bench/NAME needs WHAT` for the first failing check ([what, ok]); hoist's CLI is checked first. */
export function requirePrerequisites(name, checks = []) {
  for (const [what, ok] of [[`${HOIST} (npm run build)`, existsSync(HOIST)], ...checks]) {
    if (!ok) throw new Error(`bench/${name} needs ${what}`);
  }
}
