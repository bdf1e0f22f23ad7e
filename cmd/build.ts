import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import type { Command } from 'commander';
import { build } from '../src/build/executor/build.js';
import { parseOutputSpec, parseSourceDateEpoch } from '../src/build/outputs.js';
import { BlobStore, resolveStoreRoot } from '../src/oci/index.js';
import { UsageError, formatLocation } from '../src/errors.js';
import { collect, hostPlatform, parseBuildArgs, targetPlatform } from './common-options.js';
import type { CliIo } from './io.js';

interface BuildFlags {
  file?: string;
  tag: string[];
  buildArg: string[];
  target?: string;
  platform?: string;
  output: string[];
  digestFile?: string;
  metadataFile?: string;
  cacheDir?: string;
}

export function registerBuild(program: Command, io: CliIo): void {
  program
    .command('build')
    .description('build an image from a Dockerfile and write it to the outputs')
    .argument('[context]', 'build context directory', '.')
    .option('-f, --file <path>', 'Dockerfile path (default: CONTEXT/Dockerfile; - reads standard input)')
    .option('-t, --tag <name>', 'name the image, e.g. app:1.0 (repeatable)', collect, [])
    .option('--build-arg <name[=value]>', 'set a build-time variable (repeatable)', collect, [])
    .option('--target <stage>', 'build this stage instead of the last one')
    .option('--platform <os/arch[/variant]>', "target platform (default: this machine's)")
    .option('-o, --output <spec>', 'type=oci|oci-layout|docker,dest=PATH (repeatable)', collect, [])
    .option('--digest-file <path>', 'write the image manifest digest to this file')
    .option('--metadata-file <path>', 'write a JSON build report (digest, tags, config, layers) to this file')
    .option('--cache-dir <dir>', 'blob store directory (default: $HOIST_CACHE_DIR or ~/.cache/hoist)')
    .action(async (context: string, flags: BuildFlags) => {
      const outputs = flags.output.map(parseOutputSpec);
      if (outputs.length === 0) {
        throw new UsageError('hoist build needs somewhere to put the image', {
          hint: 'add --output type=oci,dest=image.tar (or type=oci-layout / type=docker)',
        });
      }
      const buildArgs = parseBuildArgs(flags.buildArg, io.env);
      const fromStdin = flags.file === '-';
      const store = new BlobStore(resolveStoreRoot({ cacheDir: flags.cacheDir, env: io.env, homedir: homedir() }));
      const result = await build({
        contextDir: context,
        dockerfile: fromStdin ? undefined : flags.file,
        dockerfileText: fromStdin ? readFileSync(0, 'utf8') : undefined,
        buildArgs,
        target: flags.target,
        buildPlatform: hostPlatform(),
        targetPlatform: targetPlatform(flags.platform),
        store,
        outputs,
        tags: flags.tag,
        epoch: parseSourceDateEpoch(buildArgs.get('SOURCE_DATE_EPOCH') ?? io.env.SOURCE_DATE_EPOCH),
        digestFile: flags.digestFile,
        metadataFile: flags.metadataFile,
      });
      for (const w of result.warnings) io.stderr(`warning: ${w.location ? `${formatLocation(w.location)}: ` : ''}${w.message}`);
      for (const o of outputs) io.stderr(`wrote ${o.type} ${o.dest}`);
      io.stdout(result.digest);
    });
}
