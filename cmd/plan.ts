import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { loadBuildDefinition } from '../src/builder/frontend.js';
import { planToJson } from '../src/builder/plan/index.js';
import { collect, hostPlatform, parseBuildArgs, printWarnings, targetPlatform } from './common-options.js';
import type { CliIo } from './io.js';

interface PlanFlags {
  file?: string;
  buildArg: string[];
  target?: string;
  platform?: string;
}

export function registerPlan(program: Command, io: CliIo): void {
  program
    .command('plan')
    .description('parse and check a Dockerfile, and print the expanded build plan as JSON')
    .argument('[context]', 'build context directory', '.')
    .option('-f, --file <path>', 'Dockerfile path (default: CONTEXT/Dockerfile; - reads standard input)')
    .option('--build-arg <name[=value]>', 'set a build-time variable (repeatable)', collect, [])
    .option('--target <stage>', 'plan up to this stage; stages it does not need are marked "needed": false')
    .option('--platform <os/arch[/variant]>', 'target platform (default: this machine\'s)')
    .action(async (context: string, flags: PlanFlags) => {
      const fromStdin = flags.file === '-';
      const definition = await loadBuildDefinition({
        contextDir: context,
        dockerfile: fromStdin ? undefined : flags.file,
        dockerfileText: fromStdin ? readFileSync(0, 'utf8') : undefined,
        buildArgs: parseBuildArgs(flags.buildArg, io.env),
        target: flags.target,
        buildPlatform: hostPlatform(),
        targetPlatform: targetPlatform(flags.platform),
      });
      printWarnings(io, definition.plan.warnings);
      io.stdout(JSON.stringify(planToJson(definition.plan), null, 2));
    });
}
