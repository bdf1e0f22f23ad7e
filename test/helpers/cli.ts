import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The bundle `npm run build` makes, which package.json's `bin` names: what users run. */
const CLI = fileURLToPath(new URL('../../dist/bin/hoist.cjs', import.meta.url));
const TSC = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));
const BUNDLE = fileURLToPath(new URL('../../cmd/bundle.mjs', import.meta.url));

/** CLI tests run the compiled and bundled CLI exactly as users do; call this in beforeAll. */
export function buildCli(): void {
  execFileSync(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: REPO_ROOT, stdio: 'inherit' });
  execFileSync(process.execPath, [BUNDLE, '--no-code-cache'], { cwd: REPO_ROOT, stdio: 'inherit' });
}

/**
 * buildCli without blocking the test worker: under load tsc can take more
 * than a minute, and a worker blocked that long fails the run with vitest's
 * "Timeout calling onTaskUpdate".
 */
export function buildCliAsync(): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: REPO_ROOT, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`tsc -p tsconfig.json failed: ${err.message}\n${stdout}${stderr}`));
      execFile(process.execPath, [BUNDLE, '--no-code-cache'], { cwd: REPO_ROOT }, (bErr, bOut, bErrText) => {
        if (bErr) reject(new Error(`cmd/bundle.mjs failed: ${bErr.message}\n${bOut}${bErrText}`));
        else resolve();
      });
    });
  });
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Run the built CLI as a user would, from the repository root. */
export function hoist(args: string[], opts: { input?: string; env?: Record<string, string>; timeoutMs?: number } = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: REPO_ROOT,
    input: opts.input,
    // A run past the deadline is killed and reported with status null, so a hang fails instead of stalling the suite.
    ...(opts.timeoutMs === undefined ? {} : { timeout: opts.timeoutMs, killSignal: 'SIGKILL' as const }),
    encoding: 'utf8',
    env: { ...process.env, ...opts.env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
