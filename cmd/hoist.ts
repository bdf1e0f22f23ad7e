#!/usr/bin/env node
import { Command } from 'commander';
import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';
import type { CliIo } from './io.js';
import { reportError } from './report-error.js';
import { addVerbs } from './verbs.js';

const VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

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
  // undici's HTTP parser is WebAssembly. V8 re-compiles it with its optimizing tier in the
  // background, and the process cannot exit until that job ends: ~100 ms added to every
  // registry command, for a parser that only ever sees headers (bodies pass through).
  // Only on the Node line this was measured on: a V8 without these flags would print
  // an error for each.
  if (process.versions.node.startsWith('20.')) {
    setFlagsFromString('--no-wasm-tier-up');
    setFlagsFromString('--no-wasm-dynamic-tiering');
  }
  const io: CliIo = {
    stdout: (line) => process.stdout.write(`${line}\n`),
    stderr: (line) => process.stderr.write(`${line}\n`),
    env: process.env,
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
    const report = reportError(err, io.env.HOIST_DEBUG === '1');
    for (const line of report.lines) io.stderr(line);
    process.exitCode = report.exitCode;
  }
}

await main();
