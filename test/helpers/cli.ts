import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
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

export interface CliRun extends CliResult {
  /** Wall-clock milliseconds from spawn to exit. */
  ms: number;
}

export interface CliRunOptions {
  /** Written to stdin, which is then closed (at once when there is no input). */
  input?: string;
  env?: Record<string, string>;
  /** The working directory; the repository root unless given. */
  cwd?: string;
  /** Run as this user id, with the same group id (the test must run as root). */
  uid?: number;
}

/**
 * The built CLI, run without blocking this process: servers a test starts
 * answer from its event loop, which spawnSync would stop. Killed after two
 * minutes (status null), so a hang fails the test instead of the run.
 */
export function runCli(args: string[], opts: CliRunOptions = {}): Promise<CliRun> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: opts.cwd ?? REPO_ROOT,
      env: { ...process.env, ...opts.env },
      ...(opts.uid === undefined ? {} : { uid: opts.uid, gid: opts.uid }),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, ms: Date.now() - started });
    });
    // A CLI that exits without reading its input is judged by its status and output, not by the broken pipe.
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}
