#!/usr/bin/env node
import { Command } from 'commander';
import { createRequire } from 'node:module';
import type { CliIo } from './io.js';
import { registerBuild } from './build.js';
import { registerPlan } from './plan.js';
import { registerPull } from './pull.js';
import { registerPush } from './push.js';
import { registerCopy } from './copy.js';
import { registerDigest } from './digest.js';
import { registerManifest } from './manifest.js';
import { registerConfig } from './config.js';
import { registerLs } from './ls.js';
import { registerExport } from './export.js';
import { registerLogin } from './login.js';
import { registerLogout } from './logout.js';
import { reportError } from './report-error.js';

const VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

function buildProgram(io: CliIo): Command {
  const program = new Command('hoist')
    .description('Build OCI images from Dockerfiles without a daemon')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerBuild(program, io);
  registerPlan(program, io);
  registerPull(program, io);
  registerPush(program, io);
  registerCopy(program, io);
  registerDigest(program, io);
  registerManifest(program, io);
  registerConfig(program, io);
  registerLs(program, io);
  registerExport(program, io);
  registerLogin(program, io);
  registerLogout(program, io);
  for (const cmd of program.commands) cmd.exitOverride().showHelpAfterError('(run with --help for usage)');
  return program;
}

async function main(): Promise<void> {
  const io: CliIo = {
    stdout: (line) => process.stdout.write(`${line}\n`),
    stderr: (line) => process.stderr.write(`${line}\n`),
    env: process.env,
  };
  try {
    const program = buildProgram(io);
    if (process.argv.length <= 2) {
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
