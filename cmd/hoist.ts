#!/usr/bin/env node
import { Command } from 'commander';
import { createRequire } from 'node:module';
import type { CliIo } from './io.js';
import { HoistError } from '../src/errors.js';
import { reportError } from './report-error.js';
import { addVerbs } from './verbs.js';
import { setShortCommandV8Flags } from './v8-flags.js';

const VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

class InterruptedError extends HoistError {
  constructor(readonly signalName: string) {
    super('INTERRUPTED', `interrupted by ${signalName}`);
  }
}

async function buildProgram(io: CliIo, argv: readonly string[]): Promise<Command> {
  const program = new Command('hoist')
    .description('Build OCI images from Dockerfiles without a daemon')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  await addVerbs(program, io, argv);
  for (const cmd of program.commands) cmd.exitOverride().showHelpAfterError('(run with --help for usage)');
  return program;
}

async function main(): Promise<void> {
  setShortCommandV8Flags();
  const interrupts = handleInterrupts();
  const io: CliIo = {
    stdout: (line) => process.stdout.write(`${line}\n`),
    stderr: (line) => process.stderr.write(`${line}\n`),
    env: process.env,
    interruption: interrupts.signal,
    stderrScreen: {
      isTTY: process.stderr.isTTY === true,
      get columns() {
        return process.stderr.columns ?? 80;
      },
      get rows() {
        return process.stderr.rows ?? 24;
      },
      write: (chunk) => process.stderr.write(chunk),
    },
  };
  try {
    const args = process.argv.slice(2);
    const program = await buildProgram(io, args);
    if (args.length === 0) {
      program.outputHelp();
      process.exitCode = 2;
      return;
    }
    await program.parseAsync(process.argv);
  } catch (err) {
    if (interrupts.received() !== undefined) return;
    const report = reportError(err, io.env.HOIST_DEBUG === '1');
    for (const line of report.lines) io.stderr(line);
    process.exitCode = report.exitCode;
  } finally {
    interrupts.done();
  }
}

/** 128 + the signal's number, as shells report a process a signal ended. */
const SIGNAL_EXIT: Readonly<Record<string, number>> = { SIGINT: 130, SIGTERM: 143 };
/** How long a verb may take to clean up after a signal before the process ends anyway. */
const CLEANUP_GRACE_MS = 30_000;

/**
 * SIGINT/SIGTERM: a verb that asked for an AbortSignal is aborted and given
 * time to remove its temp files; any other verb ends at once, as without a
 * handler. A second signal, or a cleanup that outlasts the grace period,
 * ends the process at once. The exit code is 130 (SIGINT) or 143 (SIGTERM).
 */
function handleInterrupts(): { signal: () => AbortSignal; received: () => string | undefined; done: () => void } {
  const controller = new AbortController();
  let watched = false;
  let received: string | undefined;
  const exitNow = (code: number): never => process.exit(code);
  const onSignal = (name: NodeJS.Signals): void => {
    const code = SIGNAL_EXIT[name] ?? 130;
    if (received !== undefined || !watched) exitNow(code);
    received = name;
    process.exitCode = code;
    // Abort first: a live progress display steps aside before the notice is printed.
    controller.abort(new InterruptedError(name));
    process.stderr.write(`interrupted by ${name}: stopping and removing temporary files\n`);
    setTimeout(() => exitNow(code), CLEANUP_GRACE_MS).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: () => {
      watched = true;
      return controller.signal;
    },
    received: () => received,
    done: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}


// Not a top-level await: the bundle users run is CommonJS (package.json's `bundle`), which Node
// starts with less work than a graph of ES modules. main() reports its own errors; this catches
// only a fault in that reporting.
main().catch((err: unknown) => {
  process.stderr.write(`hoist: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 70;
});
